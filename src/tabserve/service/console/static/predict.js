// Predict from the form (one row) or from a CSV file, with any version of the model.
import { problemText } from "./auth.js";

const SVG = "http://www.w3.org/2000/svg";

function versionUrl(form) {
  return `/models/${encodeURIComponent(form.dataset.model)}/versions/${form.dataset.version}/predict`;
}

function rowFrom(form) {
  const row = {};
  for (const input of form.querySelectorAll("[data-feature]")) {
    const raw = input.value.trim();
    if (raw === "") {
      row[input.dataset.feature] = null; // an empty field is a missing value
    } else if (input.dataset.kind === "numeric") {
      const value = Number(raw);
      row[input.dataset.feature] = Number.isFinite(value) ? value : raw; // the server names a bad value
    } else {
      row[input.dataset.feature] = raw;
    }
  }
  return row;
}

// Probability bars as SVG (attributes, not inline styles: the page's CSP allows no inline style).
function bars(classes, probabilities) {
  const width = 420;
  const rowHeight = 26;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${rowHeight * classes.length}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(rowHeight * classes.length));
  svg.setAttribute("role", "img");
  const title = document.createElementNS(SVG, "title");
  title.textContent = classes.map((c) => `${c} ${(probabilities[c][0] * 100).toFixed(1)}%`).join(", ");
  svg.append(title);
  classes.forEach((name, i) => {
    const p = probabilities[name][0];
    const y = i * rowHeight;
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y + 17));
    label.setAttribute("font-size", "13");
    label.setAttribute("fill", "#1d2330");
    label.textContent = name.length > 16 ? `${name.slice(0, 15)}…` : name;
    const back = document.createElementNS(SVG, "rect");
    back.setAttribute("x", "130");
    back.setAttribute("y", String(y + 5));
    back.setAttribute("width", "220");
    back.setAttribute("height", "16");
    back.setAttribute("fill", "#e6e9ee");
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", "130");
    bar.setAttribute("y", String(y + 5));
    bar.setAttribute("width", String(Math.max(0, Math.min(1, p)) * 220));
    bar.setAttribute("height", "16");
    bar.setAttribute("fill", "#1f5fa8");
    const value = document.createElementNS(SVG, "text");
    value.setAttribute("x", "358");
    value.setAttribute("y", String(y + 17));
    value.setAttribute("font-size", "13");
    value.setAttribute("fill", "#1d2330");
    value.textContent = `${(p * 100).toFixed(1)}%`;
    svg.append(label, back, bar, value);
  });
  return svg;
}

// A regressor's answer: the value, and its interval at the coverage asked for.
function valueAnswer(body) {
  const heading = document.createElement("p");
  heading.className = "answer";
  const strong = document.createElement("strong");
  strong.dataset.value = "";
  strong.textContent = Number(body.predictions[0]).toPrecision(6);
  heading.append("Predicted: ", strong, ` (model ${body.model} version ${body.version})`);
  if (!body.intervals) return [heading];
  const interval = document.createElement("p");
  interval.dataset.interval = "";
  const { coverage, lower, upper } = body.intervals;
  interval.textContent = `${Math.round(coverage * 100)}% interval: ${Number(lower[0]).toPrecision(6)} to ${Number(upper[0]).toPrecision(6)}`;
  return [heading, interval];
}

async function predictRow(form, event) {
  event.preventDefault();
  const error = form.querySelector('[data-error-for="predict"]');
  const result = document.querySelector("[data-predict-result]");
  error.textContent = "";
  result.replaceChildren();
  const request = { instances: [rowFrom(form)] };
  const coverage = form.querySelector("[data-interval]");
  if (coverage && coverage.value !== "") request.interval = Number(coverage.value);
  const response = await fetch(versionUrl(form), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  if (!response.ok) {
    error.textContent = await problemText(response);
    return;
  }
  const body = await response.json();
  if (body.predictions) {
    result.append(...valueAnswer(body));
    return;
  }
  const heading = document.createElement("p");
  heading.className = "answer";
  const strong = document.createElement("strong");
  strong.dataset.label = "";
  strong.textContent = body.labels[0];
  heading.append("Predicted: ", strong, ` (model ${body.model} version ${body.version})`);
  result.append(heading, bars(body.classes, body.probabilities));
}

async function predictFile(form, event) {
  event.preventDefault();
  const error = form.querySelector('[data-error-for="csv"]');
  const result = document.querySelector("[data-csv-result]");
  error.textContent = "";
  result.replaceChildren();
  const file = form.querySelector("[data-csv-file]").files[0];
  if (!file) {
    error.textContent = "Choose a CSV file first.";
    return;
  }
  const interval = form.dataset.csvInterval ? `?interval=${form.dataset.csvInterval}` : "";
  const response = await fetch(versionUrl(form) + interval, {
    method: "POST",
    headers: { "content-type": "text/csv" },
    body: await file.text(),
  });
  if (!response.ok) {
    error.textContent = await problemText(response);
    return;
  }
  const text = await response.text();
  const rows = Math.max(0, text.trim().split("\n").length - 1);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = `predictions-${form.dataset.model}-v${form.dataset.version}.csv`;
  link.textContent = `Download ${rows} predictions (CSV)`;
  link.dataset.download = "";
  result.append(link);
  link.click();
}

export function setUpPredict() {
  const form = document.querySelector("[data-predict-form]");
  if (form) form.addEventListener("submit", (event) => predictRow(form, event));
  const csv = document.querySelector("[data-csv-form]");
  if (csv) csv.addEventListener("submit", (event) => predictFile(csv, event));
}
