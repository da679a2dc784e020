/**
 * Reads strongSwan's level-4 key log (filelog with ike = 4, chd = 4, enc = 3, ike_name = yes):
 * labelled hex dumps grouped per IKE_SA by the `<conn|N>` / `<N>` prefix.
 *
 *   11:35:51.956 13[IKE] <iop|1> SKEYID => 32 bytes @ 0x558b0c68cbf0
 *   11:35:51.956 13[IKE] <iop|1>    0: B3 F7 1C A2 09 81 D6 CE 4E 0F D4 A6 14 6B 2F F8  ........N....k/.
 *
 * Quick Mode keys are collected until the `CHILD_SA … established with SPIs X_i Y_o` line that
 * follows them; whether strongSwan was the Quick Mode initiator is read from the last
 * `parsed QUICK_MODE request|response` line before the keys.
 */

export interface ChildKeys {
  /** strongSwan's inbound and outbound SPIs (hex, 8 digits). */
  readonly spiIn: string;
  readonly spiOut: string;
  readonly strongswanInitiated: boolean;
  /** Keys of the SA carrying initiator->responder traffic, and the reverse (RFC 2409 §5.5 KEYMAT). */
  readonly initiator: { encryption?: string; integrity?: string };
  readonly responder: { encryption?: string; integrity?: string };
  readonly pfs: boolean;
}

export interface IkeSaKeys {
  readonly id: number;
  /** Last value of each IKE-level label: SKEYID, SKEYID_d, SKEYID_a, SKEYID_e, "encryption key Ka", "initial IV", … */
  readonly values: Map<string, string>;
  readonly children: ChildKeys[];
}

const HEAD = /^\S+ \d+\[(\w+)\] <(?:[^|>]*\|)?(\d+)> (.*)$/;

export function parseKeyLog(text: string): Map<number, IkeSaKeys> {
  const sas = new Map<number, IkeSaKeys & { pending: Map<string, string>; lastQm?: 'request' | 'response' }>();
  const get = (id: number) => {
    let s = sas.get(id);
    if (!s) {
      s = { id, values: new Map(), children: [], pending: new Map() };
      sas.set(id, s);
    }
    return s;
  };
  let current: { sa: ReturnType<typeof get>; group: string; label: string; hex: string[] } | undefined;
  const flush = (): void => {
    if (!current) return;
    const v = current.hex.join('').toLowerCase();
    if (current.group === 'CHD') current.sa.pending.set(current.label, v);
    else current.sa.values.set(current.label, v);
    current = undefined;
  };
  for (const line of text.split('\n')) {
    const m = HEAD.exec(line);
    if (!m) continue;
    const [, group, idText, rest] = m;
    const dump = /^\s+\d+: ((?:[0-9A-F]{2} ?)+)/.exec(rest!);
    if (dump && current && current.sa.id === Number(idText)) {
      current.hex.push(dump[1]!.replace(/ /g, ''));
      continue;
    }
    flush();
    const sa = get(Number(idText));
    const labelled = /^(.+?) => \d+ bytes @ 0x[0-9a-f]+$/.exec(rest!);
    if (labelled && (group === 'IKE' || group === 'CHD')) {
      current = { sa, group: group!, label: labelled[1]!, hex: [] };
      continue;
    }
    const qm = /^parsed QUICK_MODE (request|response) /.exec(rest!);
    if (qm && group === 'ENC') sa.lastQm = qm[1] as 'request' | 'response';
    const est = /^CHILD_SA \S+ established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o/.exec(rest!);
    if (est) {
      const p = sa.pending;
      sa.children.push({
        spiIn: est[1]!, spiOut: est[2]!, strongswanInitiated: sa.lastQm === 'response', pfs: p.has('DH secret'),
        initiator: { encryption: p.get('encryption initiator key'), integrity: p.get('integrity initiator key') },
        responder: { encryption: p.get('encryption responder key'), integrity: p.get('integrity responder key') },
      });
      sa.pending = new Map();
    }
  }
  flush();
  return new Map([...sas].map(([id, s]) => [id, { id, values: s.values, children: s.children }]));
}
