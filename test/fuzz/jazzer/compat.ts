/**
 * Makes the @jazzer.js/fuzzer prebuilt addon load on Debian 12 (glibc 2.36, libstdc++ of GCC 12).
 *
 * The 4.0.0 linux-x64 prebuild was linked against glibc 2.38 and GCC 13's libstdc++; it needs
 * three symbols those do not have: `__isoc23_strtol`/`__isoc23_strtoul` (C23 variants that also
 * accept "0b" prefixes; libFuzzer parses its own decimal flags with them) and
 * `std::ios_base_library_init()` (GCC 13's out-of-line iostream initialiser). We
 * (1) compile a tiny shim that defines the three symbols on top of the older libraries, and
 * (2) patch a copy of the addon so that those two version needs are weak and the three symbol
 *     references are unversioned; the loader then takes them from the preloaded shim.
 * `ensureJazzerCompat()` is idempotent and returns the LD_PRELOAD value the fuzzer child needs
 * ('' when the addon loads as shipped).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SHIM = `
#include <cstdlib>
#include <ios>
extern "C" long __isoc23_strtol(const char *s, char **e, int b) { return std::strtol(s, e, b); }
extern "C" unsigned long __isoc23_strtoul(const char *s, char **e, int b) { return std::strtoul(s, e, b); }
namespace std { void ios_base_library_init() { static ios_base::Init init; } }
`;

const WEAKEN = new Set(['GLIBC_2.38', 'GLIBCXX_3.4.32']);

function cstr(buf: Buffer, at: number): string {
  return buf.toString('latin1', at, buf.indexOf(0, at));
}

/** Returns how many symbol references were rewritten (0 when nothing needed changing). */
export function patchAddon(elf: Buffer): number {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error('not an ELF64 file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return { type: elf.readUInt32LE(o + 4), offset: Number(elf.readBigUInt64LE(o + 0x18)), size: Number(elf.readBigUInt64LE(o + 0x20)), link: elf.readUInt32LE(o + 0x28) };
  });
  const dynsym = sections.find((s) => s.type === 11)!;
  const dynstr = sections[dynsym.link];
  const versym = sections.find((s) => s.type === 0x6fffffff)!;
  const verneed = sections.find((s) => s.type === 0x6ffffffe)!;
  const weakIdx = new Set<number>();
  for (let vn = verneed.offset; ;) {
    let aux = vn + elf.readUInt32LE(vn + 8);
    for (let k = elf.readUInt16LE(vn + 2); k > 0; k--) {
      if (WEAKEN.has(cstr(elf, dynstr.offset + elf.readUInt32LE(aux + 8)))) {
        elf.writeUInt16LE(elf.readUInt16LE(aux + 4) | 2 /* VER_FLG_WEAK */, aux + 4);
        weakIdx.add(elf.readUInt16LE(aux + 6));
      }
      aux += elf.readUInt32LE(aux + 12);
    }
    const next = elf.readUInt32LE(vn + 12);
    if (next === 0) break;
    vn += next;
  }
  let changed = 0;
  for (let i = 0; i < dynsym.size / 24; i++) {
    const at = versym.offset + 2 * i;
    if (weakIdx.has(elf.readUInt16LE(at) & 0x7fff)) {
      elf.writeUInt16LE(1 /* VER_NDX_GLOBAL */, at);
      changed++;
    }
  }
  return changed;
}

function loads(addon: string, preload: string): boolean {
  try {
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { stdio: 'pipe', env: { ...process.env, LD_PRELOAD: preload, LD_BIND_NOW: '1' } });
    return true;
  } catch {
    return false;
  }
}

export function ensureJazzerCompat(root = path.resolve(__dirname, '../../../..')): string {
  const addon = path.join(root, 'node_modules/@jazzer.js/fuzzer/prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
  // LD_BIND_NOW: function symbols bind lazily, so without it a missing one only shows on first call.
  if (!fs.existsSync(`${addon}.orig`) && loads(addon, process.env.LD_PRELOAD ?? '')) return process.env.LD_PRELOAD ?? '';
  if (process.platform !== 'linux') throw new Error(`the jazzer addon does not load: ${addon}`);
  const dir = path.join(root, 'node_modules/.cache/oakley-jazzer');
  fs.mkdirSync(dir, { recursive: true });
  const shim = path.join(dir, 'glibc-compat.so');
  if (!fs.existsSync(shim)) {
    fs.writeFileSync(path.join(dir, 'glibc-compat.cc'), SHIM);
    execFileSync('g++', ['-O2', '-shared', '-fPIC', '-o', shim, path.join(dir, 'glibc-compat.cc')], { stdio: 'inherit' });
  }
  const original = `${addon}.orig`;
  if (!fs.existsSync(original)) fs.copyFileSync(addon, original);
  const elf = fs.readFileSync(original);
  patchAddon(elf);
  fs.writeFileSync(`${addon}.tmp`, elf);
  fs.renameSync(`${addon}.tmp`, addon);
  const preload = [shim, process.env.LD_PRELOAD].filter(Boolean).join(':');
  if (!loads(addon, preload)) throw new Error(`the jazzer addon does not load even with the compatibility shim: ${addon}`);
  return preload;
}

if (require.main === module) console.log(ensureJazzerCompat());
