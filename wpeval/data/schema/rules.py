"""The contract's columns and the rules every row is checked against."""

from __future__ import annotations

from wpeval.data.parse import _BOOL_TEXT  # noqa: F401 - one truth-text table for reading and checking

REQUIRED = (
    "person_id",
    "referral_date",
    "cpa",
    "district",
    "prime",
    "payment_group",
    "attached",
    "job_start_date",
    "job_outcome_date",
    "job_end_date",
    "exit_date",
    "data_end_date",
    "sustainment_payments",
)
#: required columns that may not be missing in any row
NOT_NULL = (
    "person_id",
    "referral_date",
    "cpa",
    "district",
    "prime",
    "payment_group",
    "attached",
    "data_end_date",
    "sustainment_payments",
)
DATE_COLUMNS = (
    "referral_date",
    "attachment_date",
    "job_start_date",
    "job_outcome_date",
    "job_end_date",
    "exit_date",
    "data_end_date",
)
COUNT_COLUMNS = ("sustainment_payments", "age", "benefit_duration_days")
BOOL_COLUMNS = ("attached", "disability")
CODE_COLUMNS = ("cpa", "district", "prime", "payment_group")
STREAMS = ("job_ready", "needs_support", "furthest_from_work")
OPTIONAL = (
    "attachment_date",
    "age",
    "sex",
    "disability",
    "benefit_duration_days",
    "allocation_prob",
    "assessed_stream",
)
#: a text date: ISO year-month-day, optional time, optional UTC offset (dropped: wall time kept)
_ISO_TEXT = r"^(\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)(?:Z|[+-]\d{2}:?\d{2})?$"
#: pandas' inferred kinds of an object column that cannot hold a container
_SCALAR_KINDS = {
    "string",
    "empty",
    "integer",
    "floating",
    "mixed-integer-float",
    "boolean",
    "datetime",
    "datetime64",
    "date",
    "decimal",
    "timedelta",
    "time",
    "period",
    "bytes",
    "categorical",
    "complex",
}
_INT64_LIMIT = 2.0**63
#: rules that need an optional column (listed as "not checked" when it is absent)
_OPTIONAL_RULES = {
    "invalid_probability": "allocation_prob",
    "unknown_stream": "assessed_stream",
    "attachment_inconsistent": "attachment_date",
    "attachment_before_referral": "attachment_date",
    "sex_recoded": "sex",
    "age_implausible": "age",
}
_SEX = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}

#: rule name -> (kind, description). kind "row": rows failing are errors (raise / drop);
#: "drop": rows that are not data, dropped and counted even when strict; "recode": values
#: changed and counted; "warn": reported only.
RULES: dict[str, tuple[str, str]] = {
    "missing_columns": ("row", "a required column is absent"),
    "column_labels": ("row", "column labels repeated or not plain names (always raises)"),
    "no_rows": ("row", "the data have no rows (always raises)"),
    "repeated_header": ("drop", "a copy of the header line inside the data (always dropped)"),
    "not_scalar": ("row", "a list, dict or other container where one value is expected"),
    "null_required": ("row", "a required field is empty"),
    "unparsable_date": ("row", "a date that cannot be parsed"),
    "not_boolean": ("row", "a flag that is not true/false"),
    "not_integer": ("row", "a count that is not a whole number"),
    "invalid_probability": ("row", "allocation_prob not a number in (0, 1]"),
    "unknown_payment_group": ("row", "payment group not in the programme"),
    "unknown_cpa": ("row", "CPA not in the programme"),
    "prime_not_in_cpa": ("row", "prime is not a contract of the row's CPA"),
    "district_in_several_cpas": ("row", "a district under two or more CPAs (always raises)"),
    "district_not_in_cpa": ("row", "district not in the row's CPA (districts mapping)"),
    "unknown_stream": ("row", f"assessed_stream not one of {list(STREAMS)}"),
    "duplicate_referral": (
        "row",
        "an exact copy of an earlier row (same person_id and referral_date, same contract fields)",
    ),
    "conflicting_duplicate": (
        "row",
        "same person_id and referral_date as another row but "
        "different contract fields: every copy dropped",
    ),
    "negative_count": ("row", "a count below zero"),
    "sustainment_over_cap": ("row", "more sustainment payments than the group's cap"),
    "sustainment_without_outcome": ("row", "sustainment payments but no job outcome"),
    "attachment_inconsistent": ("row", "attachment_date given for a row not attached"),
    "attachment_before_referral": ("row", "attachment_date before referral_date"),
    "job_start_before_referral": ("row", "job_start_date before referral_date"),
    "outcome_without_job_start": ("row", "job_outcome_date without a job_start_date"),
    "outcome_before_job_start": ("row", "job_outcome_date before job_start_date"),
    "job_end_before_job_start": ("row", "job_end_date before job_start_date"),
    "exit_before_referral": ("row", "exit_date before referral_date"),
    "date_after_extract": ("row", "a date after data_end_date"),
    "code_normalised": (
        "recode",
        "spaces around a code removed (a blank code becomes missing, then fails null_required)",
    ),
    "sex_recoded": (
        "recode",
        "sex written another way (e.g. 'female') recoded to F/M; other values set to missing",
    ),
    "age_implausible": ("warn", "age outside 16-70"),
    "single_prime_stratum": (
        "warn",
        "district x period stratum with one prime only: no within-stratum comparison",
    ),
}
