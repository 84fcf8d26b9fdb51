// The HTTP API (docs/HTTP-API.md): the token, JSON calls, errors, downloads
// and uploads. Nothing else in the console talks to the server.

const TOKEN_KEY = 'carnet.token';

/** Moves a token found in the address bar's fragment (#token=...) to
 * sessionStorage and removes it from the address bar (and from history),
 * so it is not left on screen, in bookmarks or in a shared screenshot.
 * sessionStorage (not localStorage): the token dies with the tab, as it
 * dies with the `carnet` process that made it. */
export function takeTokenFromUrl() {
  const m = /(?:^#|&)token=([0-9a-fA-F]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(TOKEN_KEY, m[1]);
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
}

export function hasToken() {
  return !!sessionStorage.getItem(TOKEN_KEY);
}

function currentToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

function authHeaders(token, extra) {
  return Object.assign({'X-Carnet-Token': token}, extra || {});
}

/** An answer with an error status: the API's JSON error, kept whole
 * (code, message, field, and `duplicates` for a likely duplicate). */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || null;
    this.field = e.field || null;
    this.error = e;
  }
}

// 401 is not the caller's business: the whole page switches to the
// "open the link printed by carnet" screen (app.js listens). Only when the
// refused token is still the one in use: the answer to a request sent with
// a token since replaced (a new link opened in this tab) says nothing of
// the new one.
function unauthorized(token) {
  if (token === currentToken()) window.dispatchEvent(new CustomEvent('carnet:unauthorized'));
}

async function check(res, token) {
  if (res.ok) return res;
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON: keep the status */ }
  if (res.status === 401) unauthorized(token);
  throw new ApiError(res.status, body);
}

/** Builds /api/PATH?query, leaving out empty query values. */
export function apiUrl(path, query) {
  const u = new URL(`/api/${path}`, location.origin);
  for (const [k, v] of Object.entries(query || {}))
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  return u.pathname + u.search;
}

/** A JSON call: resolves to the parsed answer, or throws ApiError. */
export async function api(method, path, {query, body, signal} = {}) {
  const token = currentToken();
  const init = {method, headers: authHeaders(token, {Accept: 'application/json'}), signal,
    cache: 'no-store', credentials: 'omit'};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await check(await fetch(apiUrl(path, query), init), token);
  return res.json();
}

export const get = (path, query, signal) => api('GET', path, {query, signal});
export const post = (path, body) => api('POST', path, {body});
export const patch = (path, body) => api('PATCH', path, {body});
export const del = (path) => api('DELETE', path);

/** Uploads a file as the request body (the API takes no multipart). */
export async function upload(path, file, query) {
  const token = currentToken();
  const res = await check(await fetch(apiUrl(path, query), {
    method: 'POST', body: file, cache: 'no-store', credentials: 'omit',
    headers: authHeaders(token, {'Content-Type': file.type || 'application/octet-stream'}),
  }), token);
  return res.json();
}

/** Downloads an answer as a file. A plain link cannot carry the token
 * header, so the file is fetched, then saved through a blob: URL. */
export async function download(path, query, fallbackName) {
  const token = currentToken();
  const res = await check(await fetch(apiUrl(path, query), {headers: authHeaders(token), cache: 'no-store', credentials: 'omit'}), token);
  const cd = res.headers.get('Content-Disposition') || '';
  // The exact name (RFC 5987, an attachment's UTF-8 name) before the ASCII one.
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  const m = /filename="([^"]+)"/.exec(cd);
  let name = m ? m[1] : fallbackName;
  if (star) {
    try {
      name = decodeURIComponent(star[1]);
    } catch (_) { /* keep the ASCII name */
    }
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked later: revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return {name, size: blob.size};
}

/** Opens the event stream (GET /api/events) with the token header, which
 * EventSource cannot send; resolves to the Response (its body is read by
 * events.js). */
export async function openEvents(signal) {
  const token = currentToken();
  return check(await fetch('/api/events', {headers: authHeaders(token, {Accept: 'text/event-stream'}),
    signal, cache: 'no-store', credentials: 'omit'}), token);
}
