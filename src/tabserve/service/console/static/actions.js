// Promote and roll back buttons: call the JSON API with the token, then show where production points.
// A move refused by promotion gates shows the gates' figures and offers to force it past them (asking
// why: the override and the reason are recorded in the model's history); a failed smoke check is final.
import { AuthCancelled, authFetch, problemText } from "./auth.js";
import { notice } from "./notice.js";

function moveBadge(version) {
  for (const cell of document.querySelectorAll("[data-aliases]")) {
    const row = cell.closest("[data-version]");
    const badge = cell.querySelector('[data-alias="production"]');
    const here = row ? Number(row.dataset.version) === version : false;
    if (badge && !here) badge.remove();
    if (!badge && here) {
      const span = document.createElement("span");
      span.className = "badge prod";
      span.dataset.alias = "production";
      span.textContent = "production";
      cell.prepend(span);
    }
  }
}

function move(url, body) {
  return authFetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ actor: "console", ...body }),
  });
}

// The problem+json body of a refusal by gates that force may override, else null.
async function overridableRefusal(response) {
  if (response.status !== 409) return null;
  try {
    const problem = await response.clone().json();
    return problem.gates && problem.overridable ? problem : null;
  } catch {
    return null;
  }
}

async function act(button) {
  const model = button.dataset.model;
  const encoded = encodeURIComponent(model);
  const url =
    button.dataset.action === "promote"
      ? `/models/${encoded}/versions/${button.dataset.version}/promote`
      : `/models/${encoded}/rollback`;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  let promoted = false;
  try {
    let response = await move(url, {});
    const refusal = await overridableRefusal(response);
    if (refusal) {
      notice(`Refused: ${refusal.detail}`, "error");
      const why = window.prompt(
        `${refusal.detail}\n\nOverride ${refusal.gates.join(", ")} anyway? The override is recorded ` +
          "in the model's history. Why?",
      );
      if (why === null) return;
      response = await move(url, { force: true, reason: why });
    }
    if (!response.ok) {
      notice(await problemText(response), "error");
      return;
    }
    const body = await response.json();
    notice(`${body.model}: production is now version ${body.version}.`, "ok");
    moveBadge(body.version);
    showProduction(body.model, body.version);
    promoted = button.dataset.action === "promote";
    const versionBadges = document.querySelector(".actions [data-aliases]");
    if (versionBadges && button.dataset.action === "promote") {
      if (!versionBadges.querySelector('[data-alias="production"]')) {
        const span = document.createElement("span");
        span.className = "badge prod";
        span.dataset.alias = "production";
        span.textContent = "production";
        versionBadges.prepend(span);
      }
    }
  } catch (error) {
    notice(error instanceof AuthCancelled ? "Cancelled: no token was given." : `Failed: ${error.message}`, "error");
  } finally {
    if (promoted) {
      button.textContent = "Production";  // this version is production now: nothing left to promote
      delete button.dataset.action;
    } else {
      button.disabled = false;
    }
  }
}

// The "Production: version N" line of the model page, so it agrees with the message at once.
function showProduction(model, version) {
  for (const slot of document.querySelectorAll("[data-production]")) {
    const link = document.createElement("a");
    link.href = `/ui/models/${encodeURIComponent(model)}/versions/${version}`;
    link.textContent = `version ${version}`;
    slot.replaceChildren(link);
  }
}

// The canary's promote and stop buttons (model page): promote moves production and ends the canary,
// stop sends all traffic back to production; either way the canary's buttons go.
async function canary(button) {
  const model = button.dataset.model;
  const version = button.dataset.version;
  const promote = button.dataset.canary === "promote";
  const question = promote
    ? `Make version ${version} production and end its canary?`
    : `Stop the canary of version ${version}? Production will answer all traffic.`;
  if (!window.confirm(question)) return;
  const base = `/models/${encodeURIComponent(model)}/versions/${version}/canary`;
  button.disabled = true;
  try {
    const response = await authFetch(promote ? `${base}/promote` : base, { method: promote ? "POST" : "DELETE" });
    if (!response.ok) {
      notice(await problemText(response), "error");
      return;
    }
    const body = await response.json();
    if (promote) {
      notice(`${body.model}: production is now version ${body.version}; the canary ended.`, "ok");
      moveBadge(body.version);
      showProduction(body.model, body.version);
    } else {
      notice(`${body.model}: the canary of version ${body.canary.version} stopped.`, "ok");
    }
    const state = document.querySelector("[data-canary-state]");
    if (state) state.textContent = `The canary of version ${version} ended (${body.canary.outcome})`;
    for (const other of document.querySelectorAll("button[data-canary]")) other.remove();
  } catch (error) {
    notice(error instanceof AuthCancelled ? "Cancelled: no token was given." : `Failed: ${error.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

// The model page's "Start the canary" form: the candidate takes that share of production traffic
// once it answered its smoke prediction; the page reloads to show the canary with its buttons.
async function startCanary(form) {
  const error = form.querySelector('[data-error-for="canary"]');
  const weight = form.querySelector("[name=weight]");
  const version = form.querySelector("[name=version]").value;
  error.textContent = "";
  weight.removeAttribute("aria-invalid");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const url = `/models/${encodeURIComponent(form.dataset.model)}/versions/${version}/canary`;
    const response = await authFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ weight: Number(weight.value) }),
    });
    if (!response.ok) {
      const text = await problemText(response);
      error.textContent = text;
      if (response.status === 422) weight.setAttribute("aria-invalid", "true");
      notice(text, "error");
      return;
    }
    window.location.reload();
  } catch (failure) {
    const text = failure instanceof AuthCancelled ? "Cancelled: no token was given." : `Failed: ${failure.message}`;
    notice(text, "error");
  } finally {
    button.disabled = false;
  }
}

export function setUpActions() {
  const start = document.querySelector("form[data-canary-start]");
  if (start) {
    start.addEventListener("submit", (event) => {
      event.preventDefault();
      startCanary(start);
    });
  }
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(button));
  }
  for (const button of document.querySelectorAll("button[data-canary]")) {
    button.addEventListener("click", () => canary(button));
  }
}
