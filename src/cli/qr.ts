/** A QR code drawn with text, for a phone's camera to open a URL from the terminal (qrcode). */

/**
 * `text` as a QR code in half-block characters, black on white, two rows a line. The library is
 * loaded here, on first use: only a serve banner on a terminal draws one.
 */
export async function terminalQr(text: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
}
