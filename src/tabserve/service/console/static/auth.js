// The bearer token for mutating calls: asked once per tab, kept in sessionStorage, never in a cookie.
const KEY = "tabserve.token";

export function storedToken() {
  return sessionStorage.getItem(KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
  showTokenState();
}

export function showTokenState() {
  const state = document.querySelector("[data-token-state]");
  if (state) state.hidden = !storedToken();
}

export function authRequired() {
  return document.body.dataset.authRequired === "true";
}

// Ask for the token in the page's dialog; resolves to the token, or null if cancelled.
function askToken() {
  const dialog = document.querySelector("[data-token-dialog]");
  const form = dialog.querySelector("[data-token-form]");
  const input = dialog.querySelector("[data-token-input]");
  const cancel = dialog.querySelector("[data-token-cancel]");
  input.value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) done(value);
    };
    const onCancel = (event) => {
      event.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    input.focus();
  });
}

export class AuthCancelled extends Error {}

// Ask for the token now (e.g. after a read was refused) and keep it for the tab; null if cancelled.
export async function requestToken() {
  const token = await askToken();
  if (token) {
    sessionStorage.setItem(KEY, token);
    showTokenState();
  }
  return token;
}

// fetch() for a read that needs the token when the server has one: sends it if this tab holds it,
// never asks; a 401 forgets it (it was missing or wrong) and the caller says what is needed.
export async function readFetch(url) {
  const token = storedToken();
  const response = await fetch(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  if (response.status === 401) forgetToken();
  return response;
}

// fetch() for a mutating route: adds the token (asking for it first when the server wants one).
// A 401 forgets the token so the next action asks again; the caller shows the server's message.
export async function authFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  let token = storedToken();
  if (!token && authRequired()) {
    token = await requestToken();
    if (!token) throw new AuthCancelled("cancelled: no token given");
  }
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(url, { ...options, headers });
  if (response.status === 401) forgetToken();
  return response;
}

// The message of a problem+json answer (or a plain description of any other failure).
export async function problemText(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = body.detail || body.title || "";
  } catch {
    detail = response.statusText;
  }
  if (response.status === 401) {
    return `Refused (401): the token is missing or wrong. ${detail}`.trim();
  }
  return `${response.status}: ${detail}`;
}
