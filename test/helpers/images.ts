/** Small real images for photo tests: what PHP's getimagesizefromstring and browsers accept. */
import { createHash } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";

/** A 1x1 baseline JPEG (134 bytes). */
const ONE_PIXEL_JPEG = Buffer.from(
  "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=",
  "base64",
);

/** A 1x1 JPEG whose bytes differ by `label` (a comment segment after the start marker). */
export function aJpeg(label: string): Uint8Array {
  const text = Buffer.from(label, "utf8");
  const segment = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), text]);
  segment.writeUInt16BE(text.length + 2, 2);
  return new Uint8Array(Buffer.concat([ONE_PIXEL_JPEG.subarray(0, 2), segment, ONE_PIXEL_JPEG.subarray(2)]));
}

/** CRC-32 of PNG chunks (ISO 3309, as zlib's). */
function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 1x1 RGB PNG whose pixel's colour comes from `label`: different labels, different pixels. */
export function aPng(label: string): Uint8Array {
  const colour = createHash("sha256").update(label).digest().subarray(0, 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk("IHDR", ihdr),
      pngChunk("IDAT", deflateSync(Buffer.concat([Buffer.from([0]), colour]))),
      pngChunk("IEND", Buffer.alloc(0)),
    ]),
  );
}

/** The [r, g, b] of the first pixel of an 8-bit RGB or RGBA PNG (what aPng makes and GD writes back). */
export function pngPixel(png: Uint8Array): number[] {
  const bytes = Buffer.from(png);
  let offset = 8;
  let colourType = -1;
  const data: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("latin1", offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") colourType = body[9]!;
    if (type === "IDAT") data.push(body);
    offset += 12 + length;
  }
  if (colourType !== 2 && colourType !== 6) throw new Error(`not an RGB(A) PNG (colour type ${colourType})`);
  const raw = inflateSync(Buffer.concat(data));
  return [...raw.subarray(1, 4)]; // after the row's filter byte: every filter leaves the first pixel as is
}

/**
 * Whether `bytes` is a JPEG the companion plugin wrote from aJpeg(label): a JPEG, without the label's
 * comment segment (GD re-encodes uploads, keeping only the pixels; a 1x1 JPEG's are all alike).
 */
export function isReencodedJpeg(bytes: Uint8Array, label: string): boolean {
  const buffer = Buffer.from(bytes);
  return (
    buffer[0] === 0xff && buffer[1] === 0xd8 && !buffer.includes(label) && !buffer.equals(Buffer.from(aJpeg(label)))
  );
}
