/** Identification data (RFC 2407 §4.6.2): the ID payload, checkIdData and decodeIdData for every ID type. */
import { checkIdData, decodeIdData, encodeIdData } from '../../../../src/wire/ikev1/id';
import { Reader } from '../../../../src/wire/reader';
import { decodeId } from '../../../../src/wire/ikev1/payloads/id';
import { target, typed } from '../common';

export const fuzz = target((data) => {
  if (data.length < 1) return;
  const idType = data[0]! % 13;
  const body = data.subarray(1);
  typed('checkIdData', () => checkIdData(idType, body));
  const v = typed('decodeIdData', () => decodeIdData(idType, body));
  if (v) typed('encodeIdData', () => encodeIdData(v));
  typed('decodeId', () => decodeId(new Reader(data, 'ID', 0, data.length, 32)));
});
