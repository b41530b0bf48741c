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
 * - Letters that look like Latin letters are the Latin letter (a skeleton after Unicode TR39, for the
 *   Cyrillic, Greek and IPA look-alikes of Latin letters and digits in {@link LOOKALIKES}): `аlice` with
 *   a Cyrillic `а` is `alice`.
 */

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

/** The person `name` stands for (see the module comment): equal for names of one person. */
export function personOf(name: string): string {
  const folded = name.normalize('NFKC').replace(IGNORABLE, '').toLowerCase().normalize('NFKC').trim();
  if (folded === OPS_TOKEN_PERSON || folded.startsWith(`${OPS_TOKEN_PERSON}/`)) return OPS_TOKEN_PERSON;
  // An OpenID Connect user is their subject: `oidc:<subject>/<label>` (src/ops/identity/oidc.ts).
  if (folded.startsWith('oidc:')) return folded.split('/')[0];
  let skeleton = '';
  for (const char of folded) skeleton += LOOKALIKES[char] ?? char;
  return skeleton;
}

/**
 * The comparison conversations used before {@link personOf} (trimmed, case-insensitive): what a
 * decision recorded then was held to, so it replays the same way.
 */
export function legacyPersonOf(name: string): string {
  return name.trim().toLowerCase();
}
