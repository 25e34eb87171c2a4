// A PDF of any size generated piece by piece, so a test can upload hundreds of MiB it never holds.
// Each page draws one line of text and paints a gray image of `imageBytes` over the page, as a
// scanned page with a text layer does: text extraction reads the image's bytes (pdf.js loads an
// XObject to learn it is an image) without decoding them.

/** The text drawn on page `n` (1-based) of `pages`. */
export const pageLine = (n: number, pages: number): string => `Page ${n} of ${pages}`;

const IMAGE_ROW = Buffer.alloc(1024, 0xc8);

/** A streamed PDF: its exact size and its bytes, generated again on each call of `chunks`. */
export interface StreamedPdf {
  readonly bytes: number;
  chunks(): Generator<Buffer>;
}

export function streamedPdf(pages: number, imageBytes: number): StreamedPdf {
  const rows = Math.max(1, Math.ceil(imageBytes / IMAGE_ROW.length));
  function* generate(): Generator<Buffer> {
    let offset = 0;
    const offsets: number[] = [];
    const emit = (text: string | Buffer): Buffer => {
      const buf = typeof text === "string" ? Buffer.from(text, "latin1") : text;
      offset += buf.length;
      return buf;
    };
    const object = (id: number, body: string): Buffer => {
      offsets[id] = offset;
      return emit(`${id} 0 obj\n${body}\nendobj\n`);
    };
    yield emit("%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n");
    // Page n is object 4 + 3(n-1), its content the next, its image the one after.
    const kids = Array.from({ length: pages }, (_, i) => `${4 + 3 * i} 0 R`).join(" ");
    yield object(1, "<< /Type /Catalog /Pages 2 0 R >>");
    yield object(2, `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`);
    yield object(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    for (let n = 1; n <= pages; n++) {
      const page = 4 + 3 * (n - 1);
      yield object(
        page,
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 ${page + 2} 0 R >> >> /Contents ${page + 1} 0 R >>`,
      );
      const content = `q 595 0 0 842 0 0 cm /Im1 Do Q\nBT /F1 12 Tf 56 780 Td (${pageLine(n, pages)}) Tj ET`;
      yield object(page + 1, `<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
      offsets[page + 2] = offset;
      yield emit(
        `${page + 2} 0 obj\n<< /Type /XObject /Subtype /Image /Width ${IMAGE_ROW.length} /Height ${rows} /ColorSpace /DeviceGray /BitsPerComponent 8 /Length ${rows * IMAGE_ROW.length} >>\nstream\n`,
      );
      for (let i = 0; i < rows; i++) yield emit(IMAGE_ROW);
      yield emit("\nendstream\nendobj\n");
    }
    const xref = offset;
    const size = 4 + 3 * pages;
    let table = `xref\n0 ${size}\n0000000000 65535 f \n`;
    for (let id = 1; id < size; id++)
      table += `${String(offsets[id]).padStart(10, "0")} 00000 n \n`;
    yield emit(table);
    yield emit(`trailer\n<< /Size ${size} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  }
  let bytes = 0;
  for (const chunk of generate()) bytes += chunk.length;
  return { bytes, chunks: generate };
}
