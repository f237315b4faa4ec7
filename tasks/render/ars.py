"""`ars.json`: a version's results as a CDISC Analysis Results Standard v1.0 `ReportingEvent`.

The model is cdisc-org/analysis-results-standard (tag v1.0.0); its JSON Schema ships with the package
(`schemas/ars/ars_ldm.schema.json`, MIT licence beside it, `load_ars_schema`). Built from the ARD and
the version's meta only; nothing is recomputed:

- analysis sets: all pooled patients, the salvage groups, the prior-HSCT subgroups, the remission
  population, the studies of table 5, and the intersections the statistics were computed on
  (compound `AND` of those, e.g. first salvage ∧ prior HSCT);
- groupings: the ARD's group columns (SALVGRP, PRHSCT: pre-specified groups; STUDYID: data-driven)
  and, per ARD variable with levels, a grouping of its levels (`GF_LEVEL_<variable>`);
- methods and operations (`ard_meta.METHODS`): one operation per ARD stat name;
- one analysis per ARD statistic group: the rows that share the table, the group and variable
  coordinates and the method (KM median, Cox HR, Clopper–Pearson, Wald OR, counts, meta-analysis,
  stratified Cox); its analysis set is the population the statistics were computed on, its
  category the table;
- every ARD row as one operation result of its analysis: `rawValue` (the stored double, shortest
  round-trip text; absent when the statistic is NULL = not estimable) and `formattedValue` (the
  value as the report shows it, display.py's rounding under the version's convention profile);
  `resultGroups` give its group levels and variable level;
- one output per table (title, footnote, the RTF file) and the list of contents.

Byte-reproducible: sorted keys, ids derived from the ARD coordinates, no clock. `ard_from_ars` reads
the rows back (the test checks they equal the ARD one for one).
"""
from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from repool.resources import package_dir
from repool.schemas.ard import ARD_COLUMNS, SALVGRP, TABLE_IDS
from repool.schemas.pooled import SALVAGE_LEVELS, YN
from repool.tasks.render.ard_meta import (
    METHODS,
    REMISSION_POPULATION,
    Method,
    method_of,
    operation_id,
    population,
    stat_format,
    stat_label,
)
from repool.tasks.render.display import (
    CONVENTION_LABELS,
    STUDY_GROUP,
    TABLE_TITLES,
    conventions_of,
    display_conventions,
    format_level,
    has_table,
    level_of,
    table_note,
)

ARS_FILE = "ars.json"
SCHEMA_PACKAGE, SCHEMA_PATH = "repool.schemas", "ars/ars_ldm.schema.json"
REMISSION_CODES = ["CR", "CRh", "CRi"]
REASON = {"controlledTerm": "SPECIFIED IN SAP"}  # docs/spec/results.md is the analysis plan
PURPOSE = {"controlledTerm": "EXPLORATORY OUTCOME MEASURE"}  # a pooled analysis of completed studies
SPEC_DOC = "REF_RESULTS_SPEC"
TABLES_DIR = "tables"  # tasks/render/submission.py writes tables/<table_id>.rtf there

# ARD group column -> (dataset, pre-specified levels or None = data-driven)
GROUP_FACTORS = {SALVGRP: ("ADSL", list(SALVAGE_LEVELS)), "PRHSCT": ("ADSL", list(YN)), STUDY_GROUP: ("ADSL", None)}
# ARD variable with levels -> (dataset, dataset variable) of its level conditions; None: not a data value
LEVEL_VARIABLES = {"SEX": ("ADSL", "SEX"), "ECOG": ("ADSL", "ECOG"), "PRHSCT": ("ADSL", "PRHSCT"),
                   "BMBLCAT": ("ADSL", "BMBLCAT"), "BOR": ("ADRS", "AVALC")}
LEVEL_NAMES = {"FIXED": "Fixed effect (inverse variance)", "RANDOM": "Random effects (DerSimonian–Laird)"}


def _cond(dataset: str, variable: str, comparator: str, values: list[str]) -> dict:
    return {"dataset": dataset, "variable": variable, "comparator": comparator, "value": list(values)}


_REMISSION = [_cond("ADRS", "PARAMCD", "EQ", ["BOR"]), _cond("ADRS", "AVALC", "IN", REMISSION_CODES)]
_TEAE = _cond("ADAE", "TRTEMFL", "EQ", ["Y"])
# ARD variable -> (dataset, data subset id, its conditions (AND) or None)
VARIABLE_DATA = {
    "AGE": ("ADSL", None, None), "BMBLAST": ("ADSL", None, None), "SEX": ("ADSL", None, None),
    "ECOG": ("ADSL", None, None), "PRHSCT": ("ADSL", None, None), "BMBLCAT": ("ADSL", None, None),
    "PATIENTS": ("ADSL", None, None),
    "OS": ("ADTTE", "DS_OS", [_cond("ADTTE", "PARAMCD", "EQ", ["OS"])]),
    "OS_STRATIFIED": ("ADTTE", "DS_OS", [_cond("ADTTE", "PARAMCD", "EQ", ["OS"])]),
    "OS_META": ("ADTTE", "DS_OS", [_cond("ADTTE", "PARAMCD", "EQ", ["OS"])]),
    "RFS": ("ADTTE", "DS_RFS", [_cond("ADTTE", "PARAMCD", "EQ", ["RFS"])]),
    "BOR": ("ADRS", "DS_BOR", [_cond("ADRS", "PARAMCD", "EQ", ["BOR"])]),
    "REMISSION": ("ADRS", "DS_REMISSION", _REMISSION),
    "REMISSION_META": ("ADRS", "DS_REMISSION", _REMISSION),
    "MRD": ("ADRS", "DS_MRD", [_cond("ADRS", "PARAMCD", "EQ", ["MRD"]), _cond("ADRS", "AVALC", "EQ", ["Y"])]),
    "HSCT": ("ADSL", "DS_HSCT", [_cond("ADSL", "HSCTFL", "EQ", ["Y"])]),
    "HSCT_CR": ("ADSL", "DS_HSCT_CR", [_cond("ADSL", "HSCTCRFL", "EQ", ["Y"])]),
    "HSCT_RELREF": ("ADSL", "DS_HSCT_RELREF", [_cond("ADSL", "HSCTRRFL", "EQ", ["Y"])]),
    "OTHER_TX": ("ADSL", "DS_OTHER_TX", [_cond("ADSL", "OTHTXFL", "EQ", ["Y"])]),
    "ANY_TEAE": ("ADAE", "DS_ANY_TEAE", [_TEAE]),
    "SERIOUS_TEAE": ("ADAE", "DS_SERIOUS_TEAE", [_TEAE, _cond("ADAE", "AESER", "EQ", ["Y"])]),
    "FATAL_TEAE": ("ADAE", "DS_FATAL_TEAE", [_TEAE, _cond("ADAE", "AEFATFL", "EQ", ["Y"])]),
    "FATAL_RELATED": ("ADAE", "DS_FATAL_RELATED", [_TEAE, _cond("ADAE", "AEFATFL", "EQ", ["Y"]),
                                                   _cond("ADAE", "AREL", "EQ", ["Y"])]),
    "CRS": ("ADAE", "DS_CRS", [_TEAE, _cond("ADAE", "AESICAT", "EQ", ["CRS"])]),
    "NEURO": ("ADAE", "DS_NEURO", [_TEAE, _cond("ADAE", "AESICAT", "EQ", ["NEURO"])]),
}


@lru_cache(maxsize=1)
def load_ars_schema() -> dict:
    """The ARS v1.0 JSON Schema shipped as package data."""
    return json.loads((package_dir(SCHEMA_PACKAGE) / SCHEMA_PATH).read_text(encoding="utf-8"))


def _is_null(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def _text(v) -> str | None:
    return None if _is_null(v) else str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "X"


def raw_value(stat: float | None) -> str | None:
    """The stored double as text that reads back to the same double ('165', '59.39393939393939')."""
    if stat is None:
        return None
    x = float(stat)
    return str(int(x)) if x.is_integer() and abs(x) < 2 ** 53 else repr(x)


def _where(conditions: list[dict]) -> dict:
    """A condition, or an AND of conditions, as ARS `condition` / `compoundExpression`."""
    if len(conditions) == 1:
        return {"condition": conditions[0]}
    return {"compoundExpression": {"logicalOperator": "AND", "whereClauses": [
        {"level": 2, "order": i, "condition": c} for i, c in enumerate(conditions, start=1)]}}


class _Builder:
    """Collects the ReportingEvent's parts from the ARD rows, with ids derived from their coordinates."""

    def __init__(self, ard: pd.DataFrame, meta: dict):
        self.ard = ard
        self.meta = meta
        self.parameters = meta.get("parameters") or {}
        self.level = level_of(self.parameters)
        self.conventions = conventions_of(self.parameters)
        self.group_levels: dict[str, list[str]] = {}  # group column -> levels in first-seen order
        self.variable_levels: dict[str, list[str]] = {}  # ARD variable -> levels in first-seen order
        self.sets: dict[tuple, str] = {}  # population atoms -> analysis set id
        self.analyses: dict[tuple, dict] = {}  # analysis key -> analysis
        self.patterns: dict[str, str] = {}  # operation id -> result pattern
        self.subsets: dict[str, tuple[str, list[dict]]] = {}

    # ---- ids
    def grouping_id(self, column: str) -> str:
        return f"GF_{_slug(column)}"

    def group_id(self, column: str, level: str) -> str:
        return f"{self.grouping_id(column)}_{self.group_levels[column].index(level) + 1}"

    def level_grouping_id(self, variable: str) -> str:
        return f"GF_LEVEL_{_slug(variable)}"

    def level_group_id(self, variable: str, level: str) -> str:
        return f"{self.level_grouping_id(variable)}_{self.variable_levels[variable].index(level) + 1}"

    def atom_id(self, atom: tuple[str, str]) -> str:
        column, level = atom
        if column == REMISSION_POPULATION:
            return "AS_REMISSION"
        if column == "PRHSCT":
            return f"AS_PRHSCT_{_slug(level)}"
        return f"AS_{_slug(column)}_{self.group_levels[column].index(level) + 1}"

    def set_id(self, atoms: tuple) -> str:
        if not atoms:
            return "AS_ALL"
        return "AS_" + "__".join(self.atom_id(a).removeprefix("AS_") for a in atoms)

    # ---- pass 1: the levels
    def collect_levels(self) -> None:
        for column, (_, levels) in GROUP_FACTORS.items():
            if levels is not None:
                self.group_levels[column] = list(levels)
        for r in self.ard.itertuples(index=False):
            for g, lvl in ((r.group1, r.group1_level), (r.group2, r.group2_level)):
                if not _is_null(g) and not _is_null(lvl):
                    seen = self.group_levels.setdefault(str(g), [])
                    if str(lvl) not in seen:
                        seen.append(str(lvl))
            if not _is_null(r.variable_level):
                seen = self.variable_levels.setdefault(str(r.variable), [])
                if str(r.variable_level) not in seen:
                    seen.append(str(r.variable_level))
        studies = self.group_levels.get(STUDY_GROUP)
        if studies:
            studies.sort()

    # ---- pass 2: one analysis per statistic group, one result per row
    def add_row(self, row: dict) -> None:
        tid, variable, vlevel, stat_name = row["table_id"], row["variable"], row["variable_level"], row["stat_name"]
        method = method_of(tid, variable, vlevel, stat_name)
        groups = [(row[g], row[f"{g}_level"]) for g in ("group1", "group2") if row[g] is not None]
        key = (tid, row["group1"], row["group1_level"], row["group2"], row["group2_level"], variable, vlevel,
               method.id)
        analysis = self.analyses.get(key)
        if analysis is None:
            analysis = self.analyses[key] = self.new_analysis(key, method, groups)
        fmt = stat_format(tid, stat_name)
        op = operation_id(method, stat_name)
        self.patterns.setdefault(op, fmt.pattern)
        stat = None if _is_null(row["stat"]) else float(row["stat"])
        result = {"operationId": op, "formattedValue": fmt.format(stat), "resultGroups": [
            {"groupingId": self.grouping_id(g), **self.group_ref(g, lvl)} for g, lvl in groups]}
        if vlevel is not None:
            result["resultGroups"].append({"groupingId": self.level_grouping_id(variable),
                                           "groupId": self.level_group_id(variable, vlevel)})
        if stat is not None:
            result["rawValue"] = raw_value(stat)
        analysis["results"].append(result)

    def group_ref(self, column: str, level: str) -> dict:
        if GROUP_FACTORS.get(column, ("", None))[1] is None:
            return {"groupValue": level}
        return {"groupId": self.group_id(column, level)}

    def new_analysis(self, key: tuple, method: Method, groups: list[tuple[str, str]]) -> dict:
        tid, _, _, _, _, variable, vlevel, _ = key
        atoms = population(tid, variable, method, groups)
        set_id = self.set_id(atoms)
        self.sets.setdefault(atoms, set_id)
        dataset, subset_id, conditions = VARIABLE_DATA.get(variable, (None, None, None))
        digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:10]
        where = ", ".join(f"{g} = {lvl}" for g, lvl in groups)
        level_text = f" = {vlevel}" if vlevel is not None else ""
        ordered = [{"order": i, "groupingId": self.grouping_id(g), "resultsByGroup": False}
                   for i, (g, _) in enumerate(groups, start=1)]
        if vlevel is not None:
            ordered.append({"order": len(ordered) + 1, "groupingId": self.level_grouping_id(variable),
                            "resultsByGroup": False})
        analysis = {
            "id": f"AN_{_slug(tid)}_{_slug(variable)}_{digest}",
            "name": f"{tid} {variable}{level_text}" + (f", {where}" if where else "") + f": {method.name}",
            "reason": REASON, "purpose": PURPOSE, "methodId": method.id, "analysisSetId": set_id,
            "variable": variable, "categoryIds": [f"CAT_{tid}"], "orderedGroupings": ordered,
            "documentRefs": [{"referenceDocumentId": SPEC_DOC}], "results": [],
        }
        if method.comparison and any(g == SALVGRP for g, _ in groups):
            analysis["description"] = (f"{SALVAGE_LEVELS[1]} vs {SALVAGE_LEVELS[0]} (reference); the result is "
                                       f"reported on the {SALVAGE_LEVELS[1]} group.")
        if dataset is not None:
            analysis["dataset"] = dataset
        if subset_id is not None:
            analysis["dataSubsetId"] = subset_id
            self.subsets.setdefault(subset_id, (variable, conditions))
        return analysis

    # ---- the parts
    def analysis_sets(self) -> list[dict]:
        base: dict[str, dict] = {"AS_ALL": {"id": "AS_ALL", "name": "All pooled patients",
                                            "description": "Every ADSL subject of the pooled studies."}}
        compounds: list[dict] = []
        names: dict[str, str] = {}

        def atom_set(atom: tuple[str, str]) -> dict:
            column, level = atom
            if column == REMISSION_POPULATION:
                return {"id": "AS_REMISSION", "name": "Patients in remission (CR/CRh/CRi within two cycles)",
                        **_where(_REMISSION)}
            label = {SALVGRP: level, "PRHSCT": f"Prior allo-HSCT = {level}"}.get(column, f"{column} = {level}")
            return {"id": self.atom_id(atom), "name": label, **_where([_cond("ADSL", column, "EQ", [level])])}

        for atoms in sorted(self.sets, key=lambda a: (len(a), a)):
            for atom in atoms:
                s = atom_set(atom)
                base.setdefault(s["id"], s)
                names[s["id"]] = s["name"]
            if len(atoms) > 1:
                refs = [self.atom_id(a) for a in atoms]
                compounds.append({"id": self.sets[atoms], "name": " and ".join(names[r] for r in refs),
                                  "compoundExpression": {"logicalOperator": "AND", "whereClauses": [
                                      {"subClauseId": r, "level": 2, "order": i} for i, r in enumerate(refs, 1)]}})
        out = []
        for level, items in ((1, list(base.values())), (2, compounds)):
            for s in items:
                out.append({**s, "level": level, "order": len(out) + 1})
        return out

    def groupings(self) -> list[dict]:
        out = []
        for column, levels in self.group_levels.items():
            dataset, fixed = GROUP_FACTORS.get(column, ("ADSL", None))
            factor = {"id": self.grouping_id(column), "name": column, "groupingDataset": dataset,
                      "groupingVariable": column, "dataDriven": fixed is None}
            if fixed is not None:
                factor["groups"] = [{"id": self.group_id(column, lvl), "name": lvl, "level": 1, "order": i,
                                     "condition": _cond(dataset, column, "EQ", [lvl])}
                                    for i, lvl in enumerate(levels, start=1)]
            out.append(factor)
        for variable, levels in self.variable_levels.items():
            data = LEVEL_VARIABLES.get(variable)
            factor = {"id": self.level_grouping_id(variable), "name": f"{variable} levels", "dataDriven": False,
                      "groups": []}
            if data is not None:
                factor |= {"groupingDataset": data[0], "groupingVariable": data[1]}
            for i, lvl in enumerate(levels, start=1):
                group = {"id": self.level_group_id(variable, lvl), "name": lvl, "level": 1, "order": i}
                if data is not None:
                    codes = lvl.split("/") if variable == "BOR" and "/" in lvl else [lvl]
                    group["condition"] = _cond(data[0], data[1], "IN" if len(codes) > 1 else "EQ", codes)
                if lvl in LEVEL_NAMES and data is None:
                    group["label"] = LEVEL_NAMES[lvl]
                factor["groups"].append(group)
            out.append(factor)
        return out

    def data_subsets(self) -> list[dict]:
        return [{"id": sid, "name": f"{variable} records", "level": 1, "order": i, **_where(conditions)}
                for i, (sid, (variable, conditions)) in enumerate(self.subsets.items(), start=1)]

    def methods(self) -> list[dict]:
        used = {a["methodId"] for a in self.analyses.values()}
        ci = format_level(self.level)
        profile = f"'{self.conventions}' ({CONVENTION_LABELS[self.conventions]})"
        out = []
        for m in METHODS.values():
            if m.id not in used:
                continue
            operations = []
            for order, stat_name in enumerate(m.operations, start=1):
                op = {"id": operation_id(m, stat_name), "name": stat_name, "label": stat_label(stat_name),
                      "order": order}
                if operation_id(m, stat_name) in self.patterns:
                    op["resultPattern"] = self.patterns[operation_id(m, stat_name)]
                relations = []  # a percentage's numerator (and denominator, where it is an operation)
                if stat_name in ("pct", "pct_grade3"):
                    relations.append(("NUMERATOR", "n" if stat_name == "pct" else "n_grade3"))
                    if "N" in m.operations:
                        relations.append(("DENOMINATOR", "N"))
                if relations:
                    op["referencedOperationRelationships"] = [
                        {"id": f"{op['id']}_{role}", "referencedOperationRole": {"controlledTerm": role},
                         "operationId": operation_id(m, ref)} for role, ref in relations]
                operations.append(op)
            out.append({"id": m.id, "name": m.name, "label": m.context,
                        "description": m.description.replace("{ci}", ci).replace("{profile}", profile),
                        "operations": operations})
        return out

    def tables(self) -> list[str]:
        return [tid for tid in TABLE_IDS if has_table(self.ard, tid)]

    def outputs(self) -> list[dict]:
        out = []
        for tid in self.tables():
            title = TABLE_TITLES[tid]
            sections = [{"sectionType": kind, "orderedSubSections": [{"order": 1, "subSection": {
                "id": f"SS_{kind.upper()}_{tid}", "text": text}}]}
                for kind, text in (("Title", title), ("Footnote", table_note(tid, self.level, self.conventions)))]
            out.append({"id": f"OUT_{tid}", "name": title, "categoryIds": [f"CAT_{tid}"],
                        "fileSpecifications": [{"name": f"{tid}.rtf", "location": f"{TABLES_DIR}/{tid}.rtf",
                                                "fileType": {"controlledTerm": "rtf"}}],
                        "displays": [{"order": 1, "display": {"id": f"DISP_{tid}", "name": title,
                                                              "displayTitle": title,
                                                              "displaySections": sections}}]})
        return out

    def contents(self) -> dict:
        items = []
        for order, tid in enumerate(self.tables(), start=1):
            analyses = [a for k, a in self.analyses.items() if k[0] == tid]
            items.append({"level": 1, "order": order, "name": TABLE_TITLES[tid], "outputId": f"OUT_{tid}",
                          "sublist": {"listItems": [{"level": 2, "order": i, "name": a["name"], "analysisId": a["id"]}
                                                    for i, a in enumerate(analyses, start=1)]}})
        return {"name": "Tables of the result version", "contentsList": {"listItems": items}}


def create_reporting_event(ard: pd.DataFrame, meta: dict) -> dict:
    """The ReportingEvent (a JSON-ready dict) of a version's ARD and meta."""
    version = str(meta["result_version"])
    ard = ard[ARD_COLUMNS].reset_index(drop=True)
    b = _Builder(ard, meta)
    b.collect_levels()
    with display_conventions(b.conventions):
        for row in ard.to_dict(orient="records"):
            b.add_row({c: (_text(v) if c != "stat" else v) for c, v in row.items()})
    ids = [a["id"] for a in b.analyses.values()]
    if len(set(ids)) != len(ids):
        raise ValueError("analysis ids collide")
    parameters = json.dumps(b.parameters, sort_keys=True, default=str)
    return {
        "id": f"RE_{version}",
        "name": f"repool result version {version}",
        "label": "Pooled analysis of blinatumomab salvage studies",
        "description": (f"Result version {version}: code version {meta.get('code_version')}, input hash "
                        f"{meta.get('input_hash')}, analysis parameters {parameters}; intervals at "
                        f"{format_level(b.level)}; conventions {CONVENTION_LABELS[b.conventions]}."),
        "referenceDocuments": [{"id": SPEC_DOC, "name": "repool results contract", "location": "docs/spec/results.md",
                                "description": "Statistic names, methods and conventions of the ARD."}],
        "mainListOfContents": b.contents(),
        "analysisSets": b.analysis_sets(),
        "analysisGroupings": b.groupings(),
        "dataSubsets": b.data_subsets(),
        "analysisOutputCategorizations": [{"id": "AC_TABLE", "label": "Table", "categories": [
            {"id": f"CAT_{tid}", "label": TABLE_TITLES[tid]} for tid in b.tables()]}],
        "methods": b.methods(),
        "analyses": list(b.analyses.values()),
        "outputs": b.outputs(),
    }


def dumps_ars(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_ars(ard: pd.DataFrame, meta: dict, folder: Path) -> Path:
    """Write `ars.json` into the version folder; the same ARD and meta give the same bytes."""
    path = Path(folder) / ARS_FILE
    path.write_text(dumps_ars(create_reporting_event(ard, meta)), encoding="utf-8")
    return path


def ard_from_ars(doc: dict) -> pd.DataFrame:
    """The ARD rows a ReportingEvent's operation results stand for: ARD_COLUMNS plus `raw_value`,
    `formatted_value`, in document order. group1/group2 are the analysis' ordered groupings that are
    not a variable's level grouping; `stat` is the raw value read back (NULL when absent)."""
    factors = {f["id"]: f for f in doc.get("analysisGroupings", [])}
    names = {g["id"]: g["name"] for f in factors.values() for g in f.get("groups", [])}
    ops = {o["id"]: o["name"] for m in doc.get("methods", []) for o in m["operations"]}
    rows = []
    for a in doc.get("analyses", []):
        (category,) = a["categoryIds"]
        order = [g["groupingId"] for g in sorted(a.get("orderedGroupings", []), key=lambda g: g["order"])]
        for res in a.get("results", []):
            by = {rg["groupingId"]: rg.get("groupValue", names.get(rg.get("groupId"))) for rg in res["resultGroups"]}
            row = dict.fromkeys(ARD_COLUMNS)
            row |= {"table_id": category.removeprefix("CAT_"), "variable": a["variable"],
                    "stat_name": ops[res["operationId"]],
                    "stat": float(res["rawValue"]) if "rawValue" in res else None,
                    "raw_value": res.get("rawValue"), "formatted_value": res.get("formattedValue")}
            slots = iter(("group1", "group2"))
            for gid in order:
                if gid.startswith("GF_LEVEL_"):
                    row["variable_level"] = by[gid]
                else:
                    slot = next(slots)
                    row[slot], row[f"{slot}_level"] = factors[gid]["groupingVariable"], by[gid]
            rows.append(row)
    return pd.DataFrame(rows, columns=[*ARD_COLUMNS, "raw_value", "formatted_value"])
