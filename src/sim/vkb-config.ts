// The xl syntax of one `vkb` entry, as far as a backend-type=linux device goes:
// 'backend-type=linux,unique-id=id0[,backend=0][,width=W,height=H][,feature-disable-keyboard=1]...'.
import type { VkbConfig } from './toolstack.js';

export interface VkbSpec extends VkbConfig {
  readonly backend: string;
}

export function parseVkbSpec(spec: string): VkbSpec {
  const out: { -readonly [K in keyof VkbSpec]?: VkbSpec[K] } = { backend: '0' };
  let type = 'qemu';
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`vkb: "${part}" is not key=value`);
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    const num = (): number => {
      if (!/^\d+$/.test(v)) throw new Error(`vkb: ${k}=${v} is not a number`);
      return Number(v);
    };
    switch (k) {
      case 'backend-type':
        type = v;
        break;
      case 'backend':
        out.backend = v;
        break;
      case 'unique-id':
        out.uniqueId = v;
        break;
      case 'width':
        out.width = num();
        break;
      case 'height':
        out.height = num();
        break;
      case 'feature-disable-keyboard':
        out.disableKeyboard = num() !== 0;
        break;
      case 'feature-disable-pointer':
        out.disablePointer = num() !== 0;
        break;
      default:
        throw new Error(`vkb: unknown key ${k}`);
    }
  }
  if (type !== 'linux') throw new Error(`vkb: backend-type=${type}: the simulator serves backend-type=linux only`);
  return out as VkbSpec;
}
