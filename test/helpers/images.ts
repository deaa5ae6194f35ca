/** Small real images for photo tests: what PHP's getimagesizefromstring and browsers accept. */

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
