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

export function setUpActions() {
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(button));
  }
}
