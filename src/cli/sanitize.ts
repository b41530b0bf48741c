/**
 * What the CLI writes to a terminal. Users, tools and the model write the text a conversation holds,
 * and a terminal obeys control characters in it: ESC starts sequences that clear the screen, move the
 * cursor over earlier lines, retitle the window, write the clipboard (OSC 52) or disguise links (OSC 8);
 * C1 controls (U+0080–U+009F) do the same on terminals that read them; CR and BS overwrite what was
 * printed; bidi overrides reorder what the operator reads. Every piece of text the CLI prints for a
 * person goes through {@link forTerminal}; every JSON it prints through {@link jsonForTerminal}.
 */

/** C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Whether `text` holds a character {@link forTerminal} would have to show escaped. */
export function hasControl(text: string): boolean {
  return new RegExp(UNSAFE.source).test(text);
}

/**
 * The text with every control character a terminal would act on made visible instead: C0 controls
 * and DEL as their Unicode control pictures (ESC → `␛`, CR → `␍`, BEL → `␇`, DEL → `␡`), C1 controls
 * and bidi controls as `\uXXXX`. Rendered, not dropped, so an operator sees that something was there
 * (`␛[2J` reads as the attempt it was). Tab and newline stay.
 */
export function forTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return unicodeEscape(code);
  });
}

/**
 * Characters JSON.stringify leaves raw that a terminal may act on (DEL, C1 controls, bidi controls) or
 * that some JSON readers take for line ends (U+2028, U+2029). In JSON text they can only stand inside
 * a string, where `\uXXXX` means the same character: the escaped JSON parses to the same value.
 */
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `JSON.stringify(value, null, indent)`, with no character a terminal would act on left raw. */
export function jsonForTerminal(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(JSON_UNSAFE, (c) =>
    unicodeEscape(c.charCodeAt(0)),
  );
}

/**
 * A value the user gave, quoted and cut to `max` characters for an error message: an id or an option
 * of megabytes is not echoed back whole.
 */
export function quoted(value: string, max = 60): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
}

/** Text cut to `max` characters, saying how much was left out (for messages that echo a server's text). */
export function bounded(text: string, max = 2000): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

function unicodeEscape(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}
