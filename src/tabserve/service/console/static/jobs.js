// Live progress of training jobs: poll GET /jobs/{id} twice a second until the job ends.
import { storedToken } from "./auth.js";

const POLL_MS = 500;
const ENDED = new Set(["succeeded", "failed"]);

function render(root, job) {
  const done = job.progress.done;
  const total = job.progress.total;
  const bar = root.querySelector("[data-job-bar]");
  const text = root.querySelector("[data-job-text]");
  const status = root.querySelector("[data-job-status]");
  if (bar) bar.value = total > 0 ? Math.round((100 * done) / total) : 0;
  if (text) text.textContent = `${done} / ${total} fits`;
  if (status) status.textContent = job.status;
}

async function outcome(root, job) {
  const result = root.querySelector("[data-job-result]");
  if (!result) return;
  result.replaceChildren();
  if (job.status === "failed") {
    const span = document.createElement("span");
    span.className = "error-text";
    span.textContent = `Failed: ${job.error || "no reason recorded"}`;
    result.append(span);
    return;
  }
  const model = encodeURIComponent(job.model);
  const link = document.createElement("a");
  link.href = `/ui/models/${model}/versions/${job.version}`;
  link.textContent = `version ${job.version}`;
  let promoted = "";
  const answer = await fetch(`/models/${model}/versions/${job.version}`);
  if (answer.ok) {
    const version = await answer.json();
    promoted = version.aliases.includes("production")
      ? ", promoted to production"
      : ", not promoted (production kept)";
  }
  result.append("Made ", link, `${promoted}.`);
}

// Follow one job shown in ``root``; resolves with the final job once it has ended.
export async function follow(root, jobId) {
  for (;;) {
    // Job details need the token when the server has one; send it if this tab holds it (never ask here).
    const token = storedToken();
    const response = await fetch(`/jobs/${encodeURIComponent(jobId)}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    if (response.ok) {
      const job = await response.json();
      render(root, job);
      if (ENDED.has(job.status)) {
        await outcome(root, job);
        return job;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function setUpJobs() {
  for (const root of document.querySelectorAll("[data-job]")) {
    const status = root.querySelector("[data-job-status]");
    if (status && ENDED.has(status.textContent.trim())) continue;
    follow(root, root.dataset.job);
  }
}
