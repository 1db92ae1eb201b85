// Jobs (training, and scoring a table) in the browser: live progress (GET /jobs/{id} twice a second until the job ends) and,
// when the server has a token, the job page and the jobs list read from the API with this tab's token
// (the API needs it for job details, so the server does not put them in the page). A 401 stops the
// polling and says plainly that the token is needed, with a button to enter it; a tab with no token
// on such a server does not ask at all, it says so straight away.
import { authRequired, readFetch, requestToken, storedToken } from "./auth.js";

const POLL_MS = 500;
const ENDED = new Set(["succeeded", "failed"]);
const waiting = []; // what to run again once a token is entered

// GET a job route, or null (after saying the token is needed) when it cannot be read without one.
async function readJobs(url, what, retry) {
  if (authRequired() && !storedToken()) {
    tokenNeeded(what, retry);
    return null;
  }
  const response = await readFetch(url);
  if (response.status === 401) {
    tokenNeeded(what, retry);
    return null;
  }
  return response;
}

function tokenNeeded(what, retry) {
  waiting.push(retry);
  let box = document.querySelector("[data-token-needed]");
  if (!box) {
    box = document.createElement("div");
    box.className = "notice";
    box.dataset.kind = "error";
    box.dataset.tokenNeeded = "";
    box.setAttribute("role", "alert");
    const text = document.createElement("p");
    text.dataset.tokenNeededText = "";
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Enter the token";
    button.addEventListener("click", async () => {
      if (!(await requestToken())) return;
      box.remove();
      for (const run of waiting.splice(0)) run();
    });
    box.append(text, button);
    document.querySelector("[data-notice]").after(box);
  }
  box.querySelector("[data-token-needed-text]").textContent =
    `${what} needs the server token (server.token), and this tab has none (or a wrong one). ` +
    "Enter it to go on; it is kept in this tab only.";
}

function durationText(startIso, endIso) {
  if (!startIso) return "";
  const end = endIso ? Date.parse(endIso) : Date.now();
  const seconds = Math.max(0, Math.round((end - Date.parse(startIso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function versionLink(job, text) {
  const link = document.createElement("a");
  link.href = `/ui/models/${encodeURIComponent(job.model)}/versions/${job.version}`;
  link.textContent = text;
  return link;
}

function progressText(job) {
  const { done, total } = job.progress;
  if (job.kind !== "score") return `${done} / ${total} fits`;
  return `${done} / ${total} partitions, ${job.progress.scored} rows scored, ${job.progress.rejected} rejected`;
}

function render(root, job) {
  const done = job.progress.done;
  const total = job.progress.total;
  const bar = root.querySelector("[data-job-bar]");
  const text = root.querySelector("[data-job-text]");
  const status = root.querySelector("[data-job-status]");
  if (bar) bar.value = total > 0 ? Math.round((100 * done) / total) : 0;
  if (text) text.textContent = progressText(job);
  if (status) status.textContent = job.status;
  const model = root.querySelector("[data-job-model]");
  if (model) {
    const link = document.createElement("a");
    link.href = `/ui/models/${encodeURIComponent(job.model)}`;
    link.textContent = job.model;
    model.replaceChildren(link);
  }
  const created = root.querySelector("[data-job-created]");
  if (created) created.textContent = job.created_at;
  const overrides = root.querySelector("[data-job-overrides]");
  if (overrides && Object.keys(job.overrides || {}).length) {
    overrides.querySelector("pre").textContent = JSON.stringify(job.overrides, null, 2);
    overrides.hidden = false;
  }
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
  if (job.kind === "score") {
    const counts = `: ${job.progress.scored} rows, ${job.progress.rejected} rejected.`;
    result.append("Scored with ", versionLink(job, `version ${job.version}`), counts);
    return;
  }
  let promoted = "";
  const answer = await fetch(`/models/${encodeURIComponent(job.model)}/versions/${job.version}`);
  if (answer.ok) {
    const version = await answer.json();
    promoted = version.aliases.includes("production")
      ? ", promoted to production"
      : ", not promoted (production kept)";
  }
  result.append("Made ", versionLink(job, `version ${job.version}`), `${promoted}.`);
}

// Follow one job shown in ``root``; resolves with the final job once it has ended (null if it is gone).
export async function follow(root, jobId) {
  for (;;) {
    let resume;
    const resumed = new Promise((resolve) => {
      resume = () => resolve(follow(root, jobId));
    });
    const response = await readJobs(`/jobs/${encodeURIComponent(jobId)}`, "Following a job", resume);
    if (response === null) return resumed; // polling stops here until a token is entered
    if (response.status === 404) {
      const status = root.querySelector("[data-job-status]");
      if (status) status.textContent = "not found on this server";
      return null;
    }
    if (response.ok) {
      const job = await response.json();
      render(root, job);
      if (ENDED.has(job.status)) {
        if (root.querySelector("[data-job-result]")) await outcome(root, job);
        return job;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function cell(row, ...children) {
  const td = document.createElement("td");
  td.append(...children);
  row.append(td);
  return td;
}

function jobRow(job) {
  const row = document.createElement("tr");
  const id = document.createElement("a");
  id.href = `/ui/jobs/${encodeURIComponent(job.id)}`;
  const code = document.createElement("code");
  code.textContent = job.id.slice(0, 8);
  id.append(code);
  cell(row, id);
  cell(row, job.kind === "score" ? "scoring" : "training");
  cell(row, job.model);
  const status = document.createElement("span");
  status.className = `status ${job.status}`;
  status.dataset.jobStatus = "";
  cell(row, status);
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.dataset.jobBar = "";
  bar.setAttribute("aria-label", `progress of job ${job.id.slice(0, 8)}`);
  const text = document.createElement("span");
  text.dataset.jobText = "";
  cell(row, bar, " ", text);
  const started = document.createElement("time");
  started.dateTime = job.started_at || job.created_at;
  started.textContent = job.started_at || job.created_at;
  cell(row, started);
  cell(row, durationText(job.started_at, job.finished_at));
  cell(row, ...(job.version ? [versionLink(job, `v${job.version}`)] : []));
  cell(row, job.error || "").className = "error-text";
  render(row, job);
  if (!ENDED.has(job.status)) follow(row, job.id);
  return row;
}

// The jobs list of a server with a token: read from GET /jobs with the tab's token.
async function loadJobs(body) {
  const url = `/jobs?limit=${encodeURIComponent(body.dataset.limit || "50")}`;
  const response = await readJobs(url, "The list of jobs", () => loadJobs(body));
  if (response === null) return;
  if (!response.ok) {
    body.querySelector("td").textContent = `The jobs cannot be read now (${response.status}).`;
    return;
  }
  const jobs = (await response.json()).jobs;
  if (jobs.length) body.replaceChildren(...jobs.map(jobRow));
  else body.querySelector("td").textContent = "No jobs yet.";
}

export function setUpJobs() {
  for (const root of document.querySelectorAll("[data-job]")) {
    const status = root.querySelector("[data-job-status]");
    if (status && ENDED.has(status.textContent.trim())) continue;
    follow(root, root.dataset.job);
  }
  for (const body of document.querySelectorAll("[data-jobs-list]")) loadJobs(body);
}
