// Progressive enhancement only: every page works without scripts.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = button.dataset.copied;
  setTimeout(() => { button.textContent = label; }, 2000);
});

// The server's clock minus this browser's, learnt from each poll: a countdown must not depend on
// a visitor's clock being right.
let clockOffset = 0;

// The unit rule of vcs/dates.py countdown(): days from two days on, hours from two hours on,
// else minutes, so the text the script writes matches the one the server wrote.
function countdownText(start, lang) {
  const seconds = (new Date(start) - (Date.now() + clockOffset)) / 1000;
  const words = new Intl.RelativeTimeFormat(lang, { numeric: "always" });
  if (seconds >= 2 * 86400) return words.format(Math.floor(seconds / 86400), "day");
  if (seconds >= 2 * 3600) return words.format(Math.floor(seconds / 3600), "hour");
  return words.format(Math.max(1, Math.ceil(seconds / 60)), "minute");
}

function tickCountdowns() {
  for (const element of document.querySelectorAll("[data-countdown]")) {
    element.textContent = countdownText(element.dataset.countdown, element.dataset.lang);
  }
}

// The session's time in the viewer's own zone, when it is not the series' zone.
function showLocalTime() {
  const element = document.querySelector("[data-local-time]");
  if (!element) return;
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!own || own === element.dataset.tz) return;
  const lang = element.dataset.lang;
  const day = new Intl.DateTimeFormat(lang, {
    weekday: "long", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit",
  });
  // timeStyle cannot be combined with timeZoneName, hence the separate fields.
  const time = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  const start = new Date(element.dataset.start);
  const end = new Date(element.dataset.end);
  element.textContent = `${element.dataset.label}: ${day.format(start)}–${time.format(end)}`;
  element.hidden = false;
}

// Ask the session's JSON whether the phase (or a link) changed; if so, swap in the new watch box.
async function checkSession() {
  const box = document.getElementById("watch");
  if (!box) return;
  try {
    const response = await fetch(`/api/sessions/${box.dataset.session}`, { cache: "no-store" });
    if (response.ok) {
      const session = await response.json();
      if (session.now) clockOffset = new Date(session.now) - Date.now();
      const state = [session.phase, session.embed_url, session.livestream_url, session.recording_url].join("|");
      if (state !== box.dataset.state) await swapWatchBox(box);
      tickCountdowns();
    }
  } catch {
    // Offline for a moment: the next poll tries again.
  }
}

async function pollSession() {
  await checkSession();
  const box = document.getElementById("watch");
  if (box && box.dataset.phase !== "ended") {
    setTimeout(pollSession, Number(box.dataset.poll || 30) * 1000);
  }
}

async function swapWatchBox(box) {
  const response = await fetch(box.dataset.fragment, { cache: "no-store" });
  if (!response.ok) return;
  const holder = document.createElement("div");
  holder.innerHTML = await response.text();
  const fresh = holder.querySelector("#watch");
  if (!fresh) return;
  box.replaceWith(fresh);
  const status = document.getElementById("watch-status");
  if (status && fresh.dataset.announce) status.textContent = fresh.dataset.announce;
  tickCountdowns();
}

document.addEventListener("DOMContentLoaded", () => {
  showLocalTime();
  const box = document.getElementById("watch");
  if (!box) return;
  setInterval(tickCountdowns, 30000);
  if (box.dataset.phase !== "ended") pollSession();
});
