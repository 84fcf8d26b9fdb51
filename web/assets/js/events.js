// Live events: reads the Server-Sent Events stream of GET /api/events and
// hands each event to the listeners. Reconnects with a bounded backoff; a
// 401 stops it (the page shows the token screen instead).

import {openEvents, ApiError} from './api.js';

const listeners = new Set();
let state = 'off';           // 'off' | 'connecting' | 'live'
const stateListeners = new Set();

/** fn(type, data) for every event; returns the unsubscribe function. */
export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

export function liveState() { return state; }

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}

function dispatch(type, dataText) {
  let data = null;
  try { data = dataText ? JSON.parse(dataText) : null; } catch (_) { return; }
  for (const fn of listeners) {
    try { fn(type, data); } catch (e) { console.error('event listener', e); }
  }
}

// One SSE block: "event: X" and "data: ..." lines (data lines joined by \n),
// comment lines (": keepalive") ignored.
function parseBlock(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const name = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') type = value;
    else if (name === 'data') data.push(value);
  }
  if (data.length || type !== 'message') dispatch(type, data.join('\n'));
}

let controller = null;

export function start() {
  if (controller) return;
  controller = new AbortController();
  run(controller);
}

export function stop() {
  if (controller) controller.abort();
  controller = null;
  setState('off');
}

/** A new token: the stream starts again with it. */
export function restart() {
  stop();
  start();
}

async function run(ac) {
  const signal = ac.signal;
  let delay = 500;
  let again = false;
  while (!signal.aborted) {
    setState('connecting');
    try {
      const res = await openEvents(signal);
      setState('live');
      delay = 500;
      // Back after a break: changes may have been missed, so whatever is on
      // screen reloads once.
      if (again) dispatch('reset', '{}');
      again = true;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          parseBlock(buf.slice(0, end));
          buf = buf.slice(end + 2);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      // Refused: the token screen is up (api.js); this stream ends, unless a
      // newer one already replaced it.
      if (e instanceof ApiError && e.status === 401) {
        if (controller === ac) stop();
        return;
      }
    }
    if (signal.aborted) return;
    // The stream ended (server restarted, or too many streams: 503): try
    // again later; listeners reload once reconnected (above).
    setState('connecting');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}
