/**
 * Rough token counts for images and PDFs, from the providers' published rules of thumb, so cost
 * estimates see multimodal prompts cost more than their text. Pure; reads only a few header bytes
 * of an image, and scans a PDF for page objects.
 */

export interface ImageSize {
  width: number;
  height: number;
}

/** Width and height from a PNG, GIF, JPEG or WebP header, or undefined for anything else. */
export function imageSize(buf: Buffer): ImageSize | undefined {
  if (buf.length >= 24 && buf.readUInt32BE(0) === 0x89504e47) {
    return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  }
  if (buf.length >= 10 && buf.toString('latin1', 0, 3) === 'GIF') {
    return { width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
  }
  if (buf.length >= 30 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = buf.toString('latin1', 12, 16);
    if (chunk === 'VP8X') return { width: 1 + buf.readUIntLE(24, 3), height: 1 + buf.readUIntLE(27, 3) };
    if (chunk === 'VP8 ') return { width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = buf.readUInt32LE(21);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
    return undefined;
  }
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    // Walk the JPEG segments to the first start-of-frame marker, which holds the dimensions.
    for (let i = 2; i + 9 < buf.length;) {
      if (buf[i] !== 0xff) return undefined;
      const marker = buf[i + 1] as number;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
      }
      i += 2 + buf.readUInt16BE(i + 2);
    }
  }
  return undefined;
}

/** Page objects in a PDF (`/Type /Page`, not `/Pages`); at least 1 for anything PDF-like. */
export function pdfPageCount(buf: Buffer): number {
  const matches = buf.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g);
  return Math.max(1, matches?.length ?? 0);
}

/** Anthropic: about (width × height) / 750 after scaling to fit 1568 px a side and 1.15 MP; 1,600 when unknown. */
export function anthropicImageTokens(data: Buffer | undefined): number {
  const size = data ? imageSize(data) : undefined;
  if (!size || size.width <= 0 || size.height <= 0) return 1600;
  let { width, height } = size;
  const scale = Math.min(1, 1568 / Math.max(width, height), Math.sqrt(1_150_000 / (width * height)));
  width = Math.round(width * scale);
  height = Math.round(height * scale);
  return Math.max(1, Math.ceil((width * height) / 750));
}

/** Anthropic: a PDF page costs its text plus an image of the page; 1,500 a page is a fair middle. */
export const anthropicPdfTokens = (data: Buffer | undefined): number => 1500 * (data ? pdfPageCount(data) : 1);

/** Gemini: 258 tokens for an image up to 384 px a side, else 258 per 768 × 768 tile; 258 a PDF page. */
export function geminiMediaTokens(mimeType: string, data: Buffer | undefined): number {
  if (mimeType === 'application/pdf') return 258 * (data ? pdfPageCount(data) : 1);
  const size = mimeType.startsWith('image/') && data ? imageSize(data) : undefined;
  if (!size || (size.width <= 384 && size.height <= 384)) return 258;
  return 258 * Math.ceil(size.width / 768) * Math.ceil(size.height / 768);
}
