// Canonical content parts of a chat message (issue 11, issue 13): text and images, whatever
// dialect or provider they came from. Pure data; the dialect codecs and adapters translate.

/** Image media types every dialect in use accepts inline (OpenAI data URLs, Anthropic base64 blocks). */
export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

export const isImageMediaType = (value: string): value is ImageMediaType =>
  (IMAGE_MEDIA_TYPES as readonly string[]).includes(value);

export type ImageSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; mediaType: ImageMediaType; data: string };

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image';
  source: ImageSource;
  /** OpenAI's `detail` hint; absent when the client gave none. */
  detail?: 'auto' | 'low' | 'high';
}

export type ContentPart = TextPart | ImagePart;

export const textOf = (parts: readonly ContentPart[]): string =>
  parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
