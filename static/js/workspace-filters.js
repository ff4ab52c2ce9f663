// The runs table's filter bar: a list of {field, op, value} conditions kept in the view
// state, compiled to the filter JSON of GET …/runs (docs/api.md "Querying runs"), so what
// the bar shows is exactly what the server is asked.

export const TOP_FIELDS = [
  ["state", "State"], ["user", "User (e-mail)"], ["tags", "Tag"], ["group", "Group"],
  ["job_type", "Job type"], ["created_at", "Created"], ["name", "Name"], ["host", "Host"],
];

export const OPERATORS = [
  ["eq", "="], ["ne", "≠"], ["lt", "<"], ["lte", "≤"], ["gt", ">"], ["gte", "≥"],
  ["contains", "contains"], ["in", "is one of"],
];

/** The operators that make sense for a field. */
export function operatorsFor(field) {
  if (field === "tags") return [["eq", "has"], ["ne", "has not"], ["in", "has any of"]];
  if (field === "user") return [["eq", "="], ["ne", "≠"], ["in", "is one of"]];
  if (field === "created_at") return [["gte", "after"], ["lt", "before"]];
  if (["state", "group", "job_type"].includes(field)) {
    return [["eq", "="], ["ne", "≠"], ["in", "is one of"], ["contains", "contains"]];
  }
  if (field === "name" || field === "host") return [["contains", "contains"], ["eq", "="], ["ne", "≠"]];
  return OPERATORS;
}

// "0.01" -> 0.01, "true" -> true, "adam" -> "adam" (config and summary values keep their
// JSON type; run columns are text).
function typed(field, text) {
  const raw = text.trim();
  if (!field.startsWith("config.") && !field.startsWith("summary.")) return raw;
  if (raw !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  if (raw === "true" || raw === "false") return raw === "true";
  if (raw === "null") return null;
  return raw;
}

export function conditionValue(field, op, text) {
  if (op === "in") return text.split(",").map((part) => typed(field, part)).filter((v) => v !== "");
  return typed(field, text);
}

/** Conditions + name search -> the API's filter JSON (null when nothing filters). */
export function compileFilters(conditions, search) {
  const parts = conditions.map(({ field, op, value }) => ({ [field]: { [`$${op}`]: value } }));
  if (search && search.trim()) parts.push({ name: { $contains: search.trim() } });
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0] : { $and: parts };
}

export function describe({ field, op, value }) {
  const label = (operatorsFor(field).find(([o]) => o === op) || [op, op])[1];
  const shown = Array.isArray(value) ? value.join(", ") : String(value);
  return `${field} ${label} ${shown}`;
}
