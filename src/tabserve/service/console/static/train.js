// The training form: post the fields, show the server's errors beside them, then follow the job.
import { AuthCancelled, authFetch, problemText } from "./auth.js";
import { follow } from "./jobs.js";

function clearErrors(form) {
  for (const el of form.querySelectorAll("[data-error-for]")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showError(form, field, text) {
  const target = form.querySelector(`[data-error-for="${field}"]`) || form.querySelector('[data-error-for="form"]');
  target.textContent = text;
  const input = form.querySelector(`[aria-describedby~="${target.id}"]`);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

async function submit(form, event) {
  event.preventDefault();
  clearErrors(form);
  const data = new FormData(form);
  const model = data.get("model");
  const fields = {};
  for (const name of ["cv", "scoring", "split_kind", "split_value", "candidates"]) fields[name] = data.get(name) || "";
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const response = await authFetch(`/ui/api/models/${encodeURIComponent(model)}/train`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(fields),
    });
    if (!response.ok) {
      const copy = response.clone();
      let field = "form";
      try {
        field = (await copy.json()).field || "form";
      } catch {
        field = "form";
      }
      showError(form, field, await problemText(response));
      return;
    }
    const job = await response.json();
    const section = document.querySelector("[data-train-job]");
    section.hidden = false;
    const link = section.querySelector("[data-job-link]");
    link.href = job.page;
    link.textContent = `job ${job.id.slice(0, 8)}`;
    await follow(section, job.id);
  } catch (error) {
    showError(form, "form", error instanceof AuthCancelled ? "Cancelled: no token was given." : `Failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

export function setUpTraining() {
  const form = document.querySelector("[data-train-form]");
  if (form) form.addEventListener("submit", (event) => submit(form, event));
}
