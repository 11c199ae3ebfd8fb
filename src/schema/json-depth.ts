/**
 * How deep a JSON text nests, found by one pass over its bytes that never recurses: input is
 * checked before anything walks it recursively (JSON.stringify, coercion, printing), so a value
 * nested thousands of levels deep is a typed error instead of a stack overflow.
 */

/** The deepest nesting c360 accepts in any JSON it reads: far beyond any entity's shape, far below a stack's limit. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** Whether the JSON in `text` (bytes or a string) opens more than `limit` objects and arrays inside each other. */
export function jsonTooDeep(text: Buffer | string, limit = MAX_JSON_DEPTH): boolean {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  // Nesting never exceeds the number of brackets opened, which native searches count fast: most records stop here.
  let opens = 0;
  for (const open of [OPEN_OBJECT, OPEN_ARRAY]) {
    for (let i = bytes.indexOf(open); i !== -1 && opens <= limit; i = bytes.indexOf(open, i + 1)) opens++;
  }
  if (opens <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}
