// Real PDF files for upload tests, written with pdf-lib.
import { PDFDocument, StandardFonts } from "pdf-lib";

/** A PDF of `pages` pages, each with a few lines of text naming its page number. */
export async function makePdf(pages: number): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let n = 1; n <= pages; n++) {
    const page = doc.addPage([595, 842]);
    page.drawText(`Quarterly report, page ${n} of ${pages}`, { x: 50, y: 780, size: 18, font });
    for (let line = 0; line < 30; line++) {
      page.drawText(
        `Line ${line + 1}: revenue, margins and outlook for region ${(n * 31 + line) % 97}.`,
        {
          x: 50,
          y: 740 - line * 22,
          size: 11,
          font,
        },
      );
    }
  }
  return doc.save();
}
