// @ts-check
/** A reader of server-sent events (the live stream), for a fetch body: EventSource cannot send a header. */

/** @typedef {import('../../streaming/protocol').LiveMessage} LiveMessage */

/**
 * Reads a server-sent event stream, calling onMessage with each event's parsed JSON data (its `type`
 * defaults to the event's name) and the last event id seen (to reconnect from with `Last-Event-ID`).
 * @param {ReadableStream<Uint8Array>} body
 * @param {(message: LiveMessage, lastEventId: string) => void} onMessage
 */
export async function readSse(body, onMessage) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let event = '';
  let lastEventId = '';
  /** @type {string[]} */
  let data = [];
  const line = (/** @type {string} */ l) => {
    if (l === '') {
      if (data.length) {
        let msg = null;
        try {
          msg = JSON.parse(data.join('\n'));
        } catch {
          msg = null;
        }
        if (msg && typeof msg === 'object') {
          if (!msg.type) msg.type = event || 'message';
          onMessage(msg, lastEventId);
        }
      }
      event = '';
      data = [];
      return;
    }
    if (l[0] === ':') return; // A comment (`: keep-alive`).
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'id') lastEventId = value;
    else if (field === 'data') data.push(value);
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let pos = 0;
      for (;;) {
        let i = pos;
        while (i < buf.length && buf[i] !== '\n' && buf[i] !== '\r') i++;
        if (i >= buf.length) break;
        if (buf[i] === '\r' && i === buf.length - 1) break; // Maybe half of a \r\n: wait for more.
        line(buf.slice(pos, i));
        pos = i + (buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1);
      }
      buf = buf.slice(pos);
    }
  } finally {
    try {
      reader.releaseLock();
    } catch {
      /* still reading: the abort ends it */
    }
  }
}
