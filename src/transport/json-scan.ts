// Reading a token chunk's text without JSON.parse (issue 14). A decoder describes the shape of
// its engine's plain token chunk (which member holds the text, which members may only hold one
// literal, which may not appear); `shapeReader` compiles that into one anchored regular
// expression that accepts exactly the JSON texts of that shape and captures the text. Anything
// it does not accept is the decoder's to parse the ordinary way, so both paths decode alike.

const WS = String.raw`[ \t\n\r]*`;
/** A JSON string's contents (RFC 8259 §7): no raw control characters, only JSON's escapes. */
const STRING_BODY = String.raw`(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*`;
const STRING = `"${STRING_BODY}"`;
const NUMBER = String.raw`-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`;
/**
 * The values a member the decoder does not read may hold: strings, numbers, literals and arrays
 * of numbers. Nested objects and other arrays are refused, which keeps the expression linear.
 */
const SKIPPED_VALUE = `(?:${STRING}|${NUMBER}|true|false|null|\\[${WS}(?:${NUMBER}(?:${WS},${WS}${NUMBER})*)?${WS}\\])`;

/** The literals a `fixed` member may be pinned to. */
export const LITERAL = { true: 'true', false: 'false', null: 'null', zero: '0' } as const;

export interface ChunkShape {
  /**
   * The one member that must be present: a string (captured), or an object / an array of
   * exactly one object of the nested shape.
   */
  required: { name: string } | { name: string; object: ChunkShape } | { name: string; singleArray: ChunkShape };
  /**
   * Members that may be absent but, when present, must be written as this value (a LITERAL,
   * or a pattern from `stringOtherThan`).
   */
  fixed?: Readonly<Record<string, string>>;
  /** Members whose presence sends the chunk to the ordinary parser (error envelopes). */
  forbidden?: readonly string[];
}

/** A `fixed` value: a string written without escapes that is not `word`. */
export function stringOtherThan(word: string): string {
  return String.raw`"(?!${word}")[^"\\\x00-\x1f]*"`;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function objectPattern(shape: ChunkShape): string {
  const fixed = shape.fixed ?? {};
  const named = [shape.required.name, ...Object.keys(fixed), ...(shape.forbidden ?? [])];
  for (const name of named) if (!NAME.test(name)) throw new Error(`chunk shape member name "${name}" is not a plain identifier`);
  // A member name written without escapes (so it reads as it is spelled) that is none of
  // the named ones; escaped names are refused, as they could spell any name.
  const otherName = String.raw`"(?!(?:${named.join('|')})")[^"\\\x00-\x1f]*"`;
  const pinned = Object.entries(fixed).map(([name, value]) => `"${name}"${WS}:${WS}${value}`);
  const other = `(?:${[`${otherName}${WS}:${WS}${SKIPPED_VALUE}`, ...pinned].join('|')})`;
  const req = shape.required;
  let value: string;
  if ('object' in req) value = objectPattern(req.object);
  else if ('singleArray' in req) value = `\\[${WS}${objectPattern(req.singleArray)}${WS}\\]`;
  else value = `"(${STRING_BODY})"`;
  // The required member occurs exactly once: every other member's name differs from it.
  return `\\{${WS}(?:${other}${WS},${WS})*"${req.name}"${WS}:${WS}${value}(?:${WS},${WS}${other})*${WS}\\}`;
}

/**
 * Compiles a chunk shape: the returned function gives the required string member's value,
 * decoded as JSON.parse decodes it, for a text of exactly that shape; undefined otherwise.
 * JSON.parse would keep the last of two equal names; a shape only accepts repeats of
 * members it does not read or pins to one value, where the last is the same as any.
 */
export function shapeReader(shape: ChunkShape): (text: string) => string | undefined {
  const pattern = new RegExp(`^${WS}${objectPattern(shape)}${WS}$`);
  return (text) => {
    const match = pattern.exec(text);
    if (match === null) return undefined;
    const raw = match[1] as string;
    // Escapes are rare in token text: the ordinary parser decodes such a string.
    return raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
  };
}
