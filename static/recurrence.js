// The series form's recurrence builder, live. Progressive enhancement only: without this script
// the form still works (the "show the next ten dates" button posts it and the server answers).
// The rules mirror vcs/planning/recurrence_form.py: rule_of() and builder_of().
const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const POSITIONS = ["1", "2", "3", "4", "-1"];
const ORDER = ["FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"];

function canonical(parts) {
  return ORDER.filter((name) => name in parts).map((name) => `${name}=${parts[name]}`).join(";");
}

function checked(form, name) {
  const input = form.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : "";
}

// `text` as a whole number from 1 to `high`, spelt without leading zeros; null if not one.
function whole(text, high) {
  return /^\d{1,9}$/.test(text) && Number(text) >= 1 && Number(text) <= high ? String(Number(text)) : null;
}

// Which weekday of its month the first start is: ["2", "TH"]; the fifth is the last ("-1").
function weekdayOfMonth(start) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(start || "");
  if (!match) return ["", ""];
  const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  const position = Math.floor((day.getUTCDate() - 1) / 7) + 1;
  return [position === 5 ? "-1" : String(position), WEEKDAYS[(day.getUTCDay() + 6) % 7]];
}

function ruleFromBuilder(form) {
  const parts = { FREQ: form.elements.freq.value };
  const interval = form.elements.interval.value.trim();
  if (/^\d+$/.test(interval) && Number(interval) > 1) parts.INTERVAL = String(Number(interval));
  const end = checked(form, "end");
  // An empty or wrong count is a problem beside the field (countProblem), never COUNT=1.
  const count = whole(form.elements.count.value.trim(), 1000);
  if (end === "count" && count) parts.COUNT = count;
  if (end === "until" && form.elements.until.value) parts.UNTIL = form.elements.until.value.replaceAll("-", "");
  if (parts.FREQ === "WEEKLY") {
    const days = WEEKDAYS.filter((day) => form.querySelector(`input[name="byday"][value="${day}"]`).checked);
    if (days.length) parts.BYDAY = days.join(",");
  } else if (parts.FREQ === "MONTHLY") {
    if (checked(form, "monthly") === "weekday") {
      // "As on the first start" (empty) takes the start's weekday and its place in the month.
      const [position, day] = weekdayOfMonth(form.elements.start.value);
      const chosen = [form.elements.setpos.value || position, form.elements.setpos_day.value || day];
      if (chosen[0] && chosen[1]) parts.BYDAY = chosen.join("");
    } else if (form.elements.monthday.value.trim()) {
      parts.BYMONTHDAY = String(Number(form.elements.monthday.value.trim()));
    }
  }
  return canonical(parts);
}

// The builder's controls for a rule, or null when the builder cannot show it.
function builderFromRule(text) {
  const parts = {};
  let body = text.trim().toUpperCase();
  if (body.startsWith("RRULE:")) body = body.slice(6);
  for (const piece of body.split(";")) {
    const [name, value] = piece.split("=");
    if (!name || value === undefined || name.trim() in parts) return null;
    parts[name.trim()] = value.replaceAll(" ", "");
  }
  const state = { freq: parts.FREQ, interval: "1", end: "never", count: "", until: "", byday: [], monthly: "day", monthday: "", setpos: "", setpos_day: "" };
  if (!["DAILY", "WEEKLY", "MONTHLY", "YEARLY"].includes(state.freq)) return null;
  if ((parts.WKST || "MO") !== "MO") return null;
  const known = ["FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "WKST"];
  if (Object.keys(parts).some((name) => !known.includes(name))) return null;
  if ("INTERVAL" in parts) {
    if (!/^\d+$/.test(parts.INTERVAL) || Number(parts.INTERVAL) < 1 || Number(parts.INTERVAL) > 1000) return null;
    state.interval = String(Number(parts.INTERVAL));
  }
  if ("COUNT" in parts) {
    if (!/^\d+$/.test(parts.COUNT) || Number(parts.COUNT) < 1 || Number(parts.COUNT) > 1000 || "UNTIL" in parts) return null;
    Object.assign(state, { end: "count", count: String(Number(parts.COUNT)) });
  } else if ("UNTIL" in parts) {
    const until = /^(\d{4})(\d{2})(\d{2})$/.exec(parts.UNTIL);
    if (!until) return null;
    Object.assign(state, { end: "until", until: `${until[1]}-${until[2]}-${until[3]}` });
  }
  const days = parts.BYDAY ? parts.BYDAY.split(",") : [];
  const monthday = parts.BYMONTHDAY || "";
  if (state.freq === "WEEKLY" && !monthday && days.every((day) => WEEKDAYS.includes(day))) {
    // The boxes have no order: TH,MO is the same choice as MO,TH (as on the server).
    state.byday = WEEKDAYS.filter((day) => days.includes(day));
    return state;
  }
  if (state.freq === "MONTHLY" && !(days.length && monthday)) {
    if (monthday) {
      if (!/^\d+$/.test(monthday) || Number(monthday) < 1 || Number(monthday) > 31) return null;
      return Object.assign(state, { monthly: "day", monthday: String(Number(monthday)) });
    }
    if (!days.length) return state;
    const match = /^([+-]?\d{1,2})(MO|TU|WE|TH|FR|SA|SU)$/.exec(days[0]);
    if (days.length === 1 && match && POSITIONS.includes(String(Number(match[1])))) {
      return Object.assign(state, { monthly: "weekday", setpos: String(Number(match[1])), setpos_day: match[2] });
    }
    return null;
  }
  if ((state.freq === "DAILY" || state.freq === "YEARLY") && !days.length && !monthday) return state;
  return null;
}

function showBuilder(form, state) {
  const builder = document.getElementById("recurrence-builder");
  builder.disabled = state === null;
  document.getElementById("builder-note").hidden = state !== null;
  if (state === null) return;
  form.elements.freq.value = state.freq;
  form.elements.interval.value = state.interval;
  for (const box of form.querySelectorAll('input[name="byday"]')) box.checked = state.byday.includes(box.value);
  for (const radio of form.querySelectorAll('input[name="monthly"]')) radio.checked = radio.value === state.monthly;
  form.elements.monthday.value = state.monthday;
  form.elements.setpos.value = state.setpos;
  form.elements.setpos_day.value = state.setpos_day;
  for (const radio of form.querySelectorAll('input[name="end"]')) radio.checked = radio.value === state.end;
  form.elements.count.value = state.count;
  form.elements.until.value = state.until;
}

// Only the controls that matter for the chosen frequency and ending are shown.
function showRelevant(form) {
  const freq = form.elements.freq.value;
  for (const group of form.querySelectorAll("[data-show-for]")) group.hidden = group.dataset.showFor !== freq;
  const end = checked(form, "end");
  form.elements.count.closest("p").hidden = end !== "count";
  form.elements.until.closest("p").hidden = end !== "until";
  const weekday = checked(form, "monthly") === "weekday";
  form.elements.monthday.closest("p").hidden = weekday;
  form.elements.setpos.closest("p").hidden = !weekday;
  form.elements.setpos_day.closest("p").hidden = !weekday;
  const provider = form.elements.livestream_provider.value;
  for (const group of form.querySelectorAll("[data-provider]")) group.hidden = group.dataset.provider !== provider;
}

// The count's problem beside it while "after a number of sessions" has no whole number.
function countProblem(form) {
  const input = form.elements.count;
  const bad = checked(form, "end") === "count" && !whole(input.value.trim(), 1000);
  let note = document.getElementById("count-error");
  if (bad && !note) {
    note = document.createElement("span");
    note.id = "count-error";
    note.className = "field-error";
    input.closest("p").append(note);
  }
  if (note) {
    note.textContent = bad ? form.dataset.countProblem : "";
    note.hidden = !bad;
  }
  if (bad) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "count-error");
  } else {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}

// The builder wrote the rule: the server is told so (rrule_shown), and reads the controls, so
// it refuses what the builder refuses (an empty count) instead of taking the raw rule.
function fromBuilder(form) {
  const rule = ruleFromBuilder(form);
  form.elements.rrule.value = rule;
  form.elements.rrule_shown.value = rule;
  countProblem(form);
}

let pending = null;
let asked = 0;

async function preview(form) {
  const number = ++asked;
  const params = new URLSearchParams({
    rrule: form.elements.rrule.value,
    start: form.elements.start.value,
    timezone: form.elements.timezone.value,
  });
  for (const line of form.elements.exdates.value.split("\n")) if (line.trim()) params.append("exdate", line.trim());
  const list = document.getElementById("preview-dates");
  const empty = document.getElementById("preview-empty");
  const words = document.getElementById("rule-words");
  let answer = { dates: [], errors: {} };
  try {
    const response = await fetch(`${form.dataset.previewUrl}&${params}`, { headers: { Accept: "application/json" } });
    if ((response.headers.get("content-type") || "").startsWith("application/json")) answer = await response.json();
  } catch {
    return; // Offline for a moment: the button still posts the form.
  }
  if (number !== asked) return; // An answer to an older question.
  list.replaceChildren(...answer.dates.map((item) => {
    const entry = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = item.start;
    time.textContent = item.text;
    entry.append(time);
    return entry;
  }));
  const problems = Object.values(answer.errors || {}).flat();
  empty.textContent = problems.length ? problems.join(" ") : empty.dataset.text;
  empty.hidden = answer.dates.length > 0;
  // The words are the server's for exactly this rule, or none: never a stale line.
  words.querySelector("strong").textContent = answer.words || "";
  words.hidden = !answer.words;
}

function later(form) {
  clearTimeout(pending);
  document.getElementById("rule-words").hidden = true;
  pending = setTimeout(() => preview(form), 300);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-recurrence]");
  if (!form) return;
  const builder = document.getElementById("recurrence-builder");
  const raw = form.elements.rrule;
  const empty = document.getElementById("preview-empty");
  empty.dataset.text = empty.textContent;
  showRelevant(form);
  builder.addEventListener("change", () => {
    fromBuilder(form);
    showRelevant(form);
    later(form);
  });
  builder.addEventListener("input", () => {
    fromBuilder(form);
    later(form);
  });
  // A weekday of the month left "as on the first start" follows the start.
  form.elements.start.addEventListener("input", () => {
    if (!builder.disabled && form.elements.rrule.value === form.elements.rrule_shown.value) fromBuilder(form);
  });
  raw.addEventListener("input", () => {
    showBuilder(form, raw.value.trim() ? builderFromRule(raw.value) : builderFromRule("FREQ=WEEKLY"));
    showRelevant(form);
    later(form);
  });
  for (const name of ["start", "timezone", "exdates"]) form.elements[name].addEventListener("input", () => later(form));
  form.elements.livestream_provider.addEventListener("change", () => showRelevant(form));
  document.getElementById("preview-button").addEventListener("click", (event) => {
    event.preventDefault();
    preview(form);
  });
});
