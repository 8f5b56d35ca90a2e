"""Per-run region parameters: who takes part, who may be named, the period, min_cell, language.

A region run (one release and its reports) is described by one YAML file in
``parameters/`` (example: ``parameters/demo_region.yaml``)::

    region: Demoregionen
    period: {start: 2023-01-01, end: 2025-12-29}   # Grund period; end = reference date
    min_cell: 5
    lang: sv
    region_totals: validated        # validated | all | named
    municipalities:
      Älvstad:  {consent: true,  validated: true}
      Östermyra: {consent: false, validated: true}

:func:`load_region_params` reads and checks the file (every rule names the
file, the key and the rule in an :class:`~asi_lib.errors.AsiInputError`);
:meth:`RegionParams.check_store` checks it against the store (every
municipality in the file has data, every municipality with data is in the
file, the period lies within the data). :meth:`RegionParams.dataset` and
:meth:`RegionParams.release_kwargs` give what
:func:`asi_lib.release.build_release` needs.

Semantics (``docs/reports.md``, "Region file"):

* **named** = consent *and* validated. Only named municipalities appear by
  name outside their own report: in the region's table by municipality and
  in the index of reports. Their own report is always theirs.
* **counted** (in the region totals and in every "all others") follows
  ``region_totals``: ``validated`` (default: every validated municipality,
  named or not; unvalidated data are published nowhere, as Denmark's
  treatment register publishes only municipalities that approved their
  data), ``all`` (every municipality in the file) or ``named`` (the region
  is exactly the municipalities it names, so no total minus the named rows
  points at an unnamed one). A municipality that is not counted gets no
  report from this run; every counted one gets its own report.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import AsiInputError

__all__ = ["RegionParams", "load_region_params", "build_region_release", "check_release_params", "REGION_TOTALS",
           "PARAMETERS_DIR"]

#: The repository's ``parameters/`` folder (region files and ``default.yaml``).
PARAMETERS_DIR = Path(__file__).resolve().parent.parent / "parameters"

#: Allowed values of ``region_totals`` and which municipalities each counts.
REGION_TOTALS = ("validated", "all", "named")
_KEYS = {"region", "period", "min_cell", "lang", "region_totals", "municipalities", "description"}
_MUNI_KEYS = {"consent", "validated", "note"}


def _fail(path, key: str, rule: str):
    raise AsiInputError(f"nyckel '{key}': {rule}", file=str(path))


def _date(path, key: str, value) -> pd.Timestamp:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return pd.Timestamp(value).normalize()
    if isinstance(value, str):
        try:
            return pd.Timestamp(_dt.date.fromisoformat(value.strip()))
        except ValueError:
            pass
    _fail(path, key, f"ska vara ett datum ÅÅÅÅ-MM-DD, inte {value!r} / must be a date YYYY-MM-DD")


@dataclass(frozen=True)
class RegionParams:
    """A validated region file.

    Attributes
    ----------
    path : str
        The file it was read from (named in every message).
    region : str
        The region's name (free text; shown nowhere by the kit yet).
    consent, validated : dict of str to bool
        Per municipality, in file order.
    start, end : pandas.Timestamp
        The Grund period; ``end`` is the release's reference date.
    min_cell : int
    lang : {"sv", "en"}
    region_totals : {"validated", "all", "named"}
    """

    path: str
    region: str
    consent: dict
    validated: dict
    start: pd.Timestamp
    end: pd.Timestamp
    min_cell: int = 5
    lang: str = "sv"
    region_totals: str = "validated"
    _store_checked: list = field(default_factory=list, repr=False, compare=False)

    @property
    def municipalities(self) -> list[str]:
        """Every municipality in the file."""
        return list(self.consent)

    @property
    def named(self) -> list[str]:
        """Municipalities that may be named outside their own report (consent and validated)."""
        return [m for m in self.consent if self.consent[m] and self.validated[m]]

    @property
    def counted(self) -> list[str]:
        """Municipalities in the region totals and the "all others" (and with a report from this run)."""
        keep = {"all": lambda m: True, "validated": lambda m: self.validated[m],
                "named": lambda m: m in self.named}[self.region_totals]
        return [m for m in self.consent if keep(m)]

    def check_store(self, ds) -> None:
        """Check the file against the data: the same municipalities, a period within the data.

        Parameters
        ----------
        ds : Dataset
            The whole store.

        Raises
        ------
        AsiInputError
            A municipality in the file has no Grund in the store (unknown), a
            municipality with Grund is missing from the file (its consent is
            not recorded), the period ends after the store's last interview
            or holds no Grund.
        """
        known = set(map(str, ds.grund["municipality"].dropna().unique()))
        unknown = [m for m in self.consent if m not in known]
        if unknown:
            _fail(self.path, f"municipalities.{unknown[0]}",
                  f"okänd kommun: ingen ASI Grund i lagret (finns: {', '.join(sorted(known))}) "
                  "/ unknown municipality: no ASI Grund in the store")
        missing = sorted(known - set(self.consent))
        if missing:
            _fail(self.path, "municipalities",
                  f"kommunen {', '.join(missing)} har data i lagret men saknas i filen; ange consent och validated "
                  "/ a municipality with data is missing from the file: record its consent and validation")
        dates = pd.to_datetime(ds.grund["interview_date"])
        last = max(dates.max(), pd.to_datetime(ds.uppfoljning["interview_date"]).max())
        if self.end > last:
            _fail(self.path, "period.end",
                  f"{self.end.date()} ligger efter lagrets sista intervju {last.date()}; referensdatum kan inte "
                  "ligga efter data / the period cannot end after the store's last interview")
        if not dates.between(self.start, self.end).any():
            _fail(self.path, "period", f"ingen Grund mellan {self.start.date()} och {self.end.date()} "
                  "/ no Grund interview in the period")
        self._store_checked.append(True)

    def dataset(self, ds):
        """The data this run publishes: counted municipalities, clients with Grund in the period, up to its end.

        Parameters
        ----------
        ds : Dataset
            The whole store (checked with :meth:`check_store` first).

        Returns
        -------
        Dataset

        Notes
        -----
        A client belongs to the run when a Grund interview or a Grund
        bortfall of theirs is dated in ``[start, end]``; then everything
        about them dated up to ``end`` is kept (follow-ups, follow-up
        bortfall, interventions started), and their Grund interviews before
        ``start`` are dropped. Vectorised ``isin`` filters, one per table.
        """
        from dataclasses import replace

        if not self._store_checked:
            self.check_store(ds)
        ds = ds.filter(municipality=self.counted)
        g, b, u, ins = ds.grund, ds.bortfall, ds.uppfoljning, ds.insatser
        gd = pd.to_datetime(g["interview_date"])
        bd = pd.to_datetime(b["bortfall_date"])
        b_grund = (b["form"].astype(str) == "grund").to_numpy()
        in_g = gd.between(self.start, self.end).to_numpy()
        in_b = (b_grund & bd.between(self.start, self.end).to_numpy())
        clients = pd.Index(g["client_pid"][in_g]).union(pd.Index(b["client_pid"][in_b]))
        keep_b = b["client_pid"].isin(clients).to_numpy() & (in_b | (~b_grund & (bd <= self.end).to_numpy()))
        return replace(
            ds,
            grund=g.loc[in_g & g["client_pid"].isin(clients).to_numpy()],
            bortfall=b.loc[keep_b],
            uppfoljning=u.loc[u["client_pid"].isin(clients).to_numpy()
                              & (pd.to_datetime(u["interview_date"]) <= self.end).to_numpy()],
            insatser=ins.loc[ins["client_pid"].isin(clients).to_numpy()
                             & (pd.to_datetime(ins["start_date"]) <= self.end).to_numpy()],
        )

    def release_kwargs(self) -> dict:
        """Keyword arguments of :func:`asi_lib.release.build_release` for this run."""
        return {"as_of": self.end, "min_cell": self.min_cell, "lang": self.lang,
                "municipalities": sorted(self.counted), "named": self.named}

    def manifest(self) -> dict:
        """What the release records about the file (no municipality names: those are in its units)."""
        import hashlib

        return {"file": Path(self.path).name,
                "sha256": hashlib.sha256(Path(self.path).read_bytes()).hexdigest()[:16],
                "region": self.region, "period": [str(self.start.date()), str(self.end.date())],
                "region_totals": self.region_totals, "municipalities": len(self.consent),
                "counted": len(self.counted), "named": len(self.named)}


def build_region_release(params: RegionParams, ds, **kw):
    """Build the release of a region run: the file checked against the store, then :func:`build_release`.

    Parameters
    ----------
    params : RegionParams
    ds : Dataset
        The whole store.
    **kw
        More arguments of :func:`asi_lib.release.build_release` (e.g. ``audit_cells``).

    Returns
    -------
    asi_lib.release.Release
        Its manifest records the file (``region_params``: name, checksum,
        period, counts; no municipality names beyond the units').
    """
    from .release import build_release

    params.check_store(ds)
    rel = build_release(params.dataset(ds), **params.release_kwargs(), **kw)
    rel.manifest["region_params"] = params.manifest()
    return rel


def check_release_params(params: RegionParams, manifest: dict) -> None:
    """Refuse a release that was not built with this region file (its naming decisions would not hold).

    Raises
    ------
    AsiInputError
        The release has no region file or another version of it.
    """
    got = (manifest.get("region_params") or {}).get("sha256")
    want = params.manifest()["sha256"]
    if got != want:
        raise AsiInputError(
            "utgåvan är inte byggd med den här regionfilen (eller filen har ändrats); bygg om den med "
            "'asi-kit release --params' / the release was not built with this region file", file=params.path)


def load_region_params(path, ds=None) -> RegionParams:
    """Read and check a region file (``parameters/<region>.yaml``).

    Parameters
    ----------
    path : str or Path
    ds : Dataset, optional
        When given, the file is also checked against the store
        (:meth:`RegionParams.check_store`).

    Returns
    -------
    RegionParams

    Raises
    ------
    AsiInputError
        Naming the file, the key and the rule: not YAML, an unknown key, a
        missing period, ``start`` after ``end``, ``min_cell`` not an integer
        ≥ 3, ``lang`` not sv/en, ``consent``/``validated`` not true/false, a
        municipality name longer than the codebook allows, ...

    Notes
    -----
    A municipality is *named* iff ``consent and validated``; it is *counted*
    iff ``validated`` (``region_totals: validated``), always (``all``) or
    iff named (``named``).

    Examples
    --------
    >>> p = load_region_params(PARAMETERS_DIR / "demo_region.yaml")
    >>> "Östermyra" in p.named, "Östermyra" in p.counted, "Rönnvik" in p.counted
    (False, True, False)
    >>> import tempfile, os
    >>> bad = os.path.join(tempfile.mkdtemp(), "r.yaml")
    >>> _ = open(bad, "w").write("period: {start: 2025-01-01, end: 2024-01-01}\\nmunicipalities: {A: {consent: true, validated: true}}\\n")
    >>> load_region_params(bad)
    Traceback (most recent call last):
    ...
    asi_lib.errors.AsiInputError: ...r.yaml: nyckel 'period': start 2025-01-01 ligger efter end 2024-01-01 / start after end
    """
    import yaml

    from .codebook import load_codebook

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AsiInputError("regionfilen finns inte / region file not found", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"rad {mark.line + 1}: " if mark is not None else ""
        raise AsiInputError(f"{where}inte giltig YAML / not valid YAML", file=str(path)) from None
    if not isinstance(raw, dict):
        _fail(path, "(fil)", "ska vara en YAML-mappning med nycklar / must be a YAML mapping")
    extra = sorted(set(map(str, raw)) - _KEYS)
    if extra:
        _fail(path, extra[0], f"okänd nyckel (tillåtna: {', '.join(sorted(_KEYS))}) / unknown key")
    period = raw.get("period")
    if not isinstance(period, dict) or set(period) != {"start", "end"}:
        _fail(path, "period", "ska ha exakt start och end (datum) / must have start and end dates")
    start, end = _date(path, "period.start", period["start"]), _date(path, "period.end", period["end"])
    if start > end:
        _fail(path, "period", f"start {start.date()} ligger efter end {end.date()} / start after end")
    min_cell = raw.get("min_cell", 5)
    if isinstance(min_cell, bool) or not isinstance(min_cell, int) or min_cell < 3:
        _fail(path, "min_cell", f"ska vara ett heltal ≥ 3, inte {min_cell!r} / must be an integer >= 3")
    lang = raw.get("lang", "sv")
    if lang not in ("sv", "en"):
        _fail(path, "lang", f"ska vara sv eller en, inte {lang!r} / must be sv or en")
    totals = raw.get("region_totals", "validated")
    if totals not in REGION_TOTALS:
        _fail(path, "region_totals", f"ska vara {', '.join(REGION_TOTALS)}, inte {totals!r}")
    munis = raw.get("municipalities")
    if not isinstance(munis, dict) or not munis:
        _fail(path, "municipalities", "ska lista minst en kommun med consent och validated "
              "/ must list at least one municipality")
    max_len = next(c.get("max_length", 60) for c in load_codebook().raw["columns"] if c["name"] == "municipality")
    consent, validated = {}, {}
    for name, entry in munis.items():
        if not isinstance(name, str) or not name.strip() or len(name) > max_len:
            _fail(path, f"municipalities.{name}", f"kommunnamn ska vara text, 1–{max_len} tecken (kodboken) "
                  "/ a municipality name is text within the codebook's length")
        if not isinstance(entry, dict):
            _fail(path, f"municipalities.{name}", "ska vara {consent: true/false, validated: true/false}")
        bad = sorted(set(map(str, entry)) - _MUNI_KEYS)
        if bad:
            _fail(path, f"municipalities.{name}.{bad[0]}", "okänd nyckel (consent, validated, note) / unknown key")
        for key, target in (("consent", consent), ("validated", validated)):
            if not isinstance(entry.get(key), bool):
                _fail(path, f"municipalities.{name}.{key}",
                      f"ska vara true eller false, inte {entry.get(key)!r} (saknas = inget beslut) "
                      "/ must be true or false")
            target[name] = entry[key]
    region = raw.get("region", path.stem)
    params = RegionParams(path=str(path), region=str(region), consent=consent, validated=validated,
                          start=start, end=end, min_cell=min_cell, lang=lang, region_totals=totals)
    if not params.counted:
        _fail(path, "region_totals", f"'{totals}' räknar ingen kommun i filen / counts no municipality")
    if ds is not None:
        params.check_store(ds)
    return params
