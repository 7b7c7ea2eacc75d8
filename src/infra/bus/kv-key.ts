/** NATS KV keys allow letters, digits and `-/_=.`: anything else in a key built from text becomes `_`. */
export function kvKey(text: string): string {
  return text.replace(/[^-/_=.a-zA-Z0-9]/g, '_');
}
