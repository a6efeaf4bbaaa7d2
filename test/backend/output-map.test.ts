// Which guest connector goes to which output: mappings name the guest by what it cannot write,
// unique-ids choose among the guest's own mappings only, collisions are first come first served
// and said once, and the guest's identity is read from dom0's nodes only while dom0 owns them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readGuestIdentity, type GuestIdentity } from '../../src/backend/guest-identity.js';
import {
  OutputMap,
  canonicalMappingKey,
  mappingKeys,
  parseConnectorMapping,
  type ConnectorRef,
} from '../../src/backend/output-map.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { Toolstack } from '../../src/sim/toolstack.js';
import type { DomId } from '../../src/util/ids.js';
import { xenstored } from '../ops/helpers.js';

const UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427';
const vm1: GuestIdentity = { domid: 3 as DomId, name: 'vm1', uuid: UUID };
const vm2: GuestIdentity = { domid: 4 as DomId, name: 'vm2' };

function ref(guest: GuestIdentity, uniqueId: string, index = 0): ConnectorRef {
  return { guest, devId: 0, index, uniqueId, resolution: { width: 64, height: 48 } };
}

function world(map: Record<string, string>, unmapped?: 'headless' | 'refuse') {
  const headless = new HeadlessBackend([
    { name: 'HDMI-A-1', width: 64, height: 48 },
    { name: 'DP-1', width: 64, height: 48 },
  ]);
  const warnings: string[] = [];
  const connectorMap = new Map(Object.entries(map).map(([k, v]) => parseConnectorMapping(`${k}=${v}`)));
  const outputs = new OutputMap({
    backends: [headless],
    onDemand: headless,
    connectorMap,
    ...(unmapped ? { unmapped } : {}),
    warn: (m) => warnings.push(m),
  });
  return { headless, outputs, warnings };
}

function outputOf(r: ReturnType<OutputMap['claim']>): string {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.claim.output.name;
}

void test('mapping keys: GUEST/UNIQUE_ID with GUEST a domid, UUID or name, in one canonical form', () => {
  assert.deepEqual(parseConnectorMapping('vm1/id0=HDMI-A-1'), ['vm1/id0', 'HDMI-A-1']);
  assert.deepEqual(parseConnectorMapping(`${UUID.toUpperCase()}/id0=DP-1`), [`${UUID}/id0`, 'DP-1']);
  assert.deepEqual(parseConnectorMapping('007/id0=DP-1'), ['7/id0', 'DP-1']);
  assert.deepEqual(
    parseConnectorMapping('vm.example/a/b=DP-1'),
    ['vm.example/a/b', 'DP-1'],
    'the unique-id may hold a slash, the guest not',
  );
  for (const bad of [
    'id0=HDMI-A-1',
    '/id0=X',
    'vm1/=X',
    'vm1/id0=',
    '40000/id0=X',
    'vm 1/id0=X',
    'vm1/id,0=X',
    'a=b/c=X',
  ]) {
    assert.throws(() => parseConnectorMapping(bad), /expected GUEST\/UNIQUE_ID=OUTPUT/, bad);
  }
  assert.equal(canonicalMappingKey('vm1'), undefined);
  assert.deepEqual(mappingKeys(vm1, 'id0'), ['3/id0', `${UUID}/id0`, 'vm1/id0']);
  // A name that could not be a mapping's guest is never looked up by.
  assert.deepEqual(mappingKeys({ domid: 5 as DomId, name: 'a/b' }, 'id0'), ['5/id0']);
});

void test("a unique-id selects among its own guest's mappings only; anything else gets a headless output of its own", () => {
  const { outputs, headless } = world({ 'vm1/id0': 'HDMI-A-1' });
  const victim = outputs.claim(ref(vm1, 'id0'));
  assert.equal(outputOf(victim), 'HDMI-A-1');
  // vm2 writes vm1's unique-id, the output's name, vm1's mapping key, and vm1's headless output's name.
  for (const uid of ['id0', 'HDMI-A-1', 'DP-1', 'vm1/id0', '3/id0', 'dom3.0.x']) {
    const r = outputs.claim(ref(vm2, uid));
    assert.equal(outputOf(r), `dom4.0.${uid}`, uid);
    assert.ok(r.ok && r.claim.dedicated);
    r.claim.release();
  }
  assert.deepEqual(
    headless.outputs().map((o) => o.name),
    ['HDMI-A-1', 'DP-1'],
    'the headless outputs made went with their claims',
  );
  if (victim.ok) victim.claim.release();
  // Freed, it is vm1's again, and still not vm2's.
  assert.equal(outputOf(outputs.claim(ref(vm2, 'id0'))), 'dom4.0.id0');
});

void test('the domid, then the UUID, then the name: the most specific mapping wins', () => {
  const { outputs } = world({ 'vm1/id0': 'HDMI-A-1', [`${UUID}/id0`]: 'DP-1' });
  assert.equal(outputOf(outputs.claim(ref(vm1, 'id0'))), 'DP-1');
  const w2 = world({ 'vm1/id0': 'HDMI-A-1', '3/id0': 'DP-1' });
  assert.equal(outputOf(w2.outputs.claim(ref(vm1, 'id0'))), 'DP-1');
  // Without the identity nodes (not dom0's), only the domid names the guest.
  const w3 = world({ 'vm1/id0': 'HDMI-A-1' });
  assert.equal(outputOf(w3.outputs.claim(ref({ domid: 3 as DomId }, 'id0'))), 'dom3.0.id0');
});

void test('two guests mapped to one output: first come, first served; the later one is told once and gets its own', () => {
  const { outputs, warnings } = world({ 'vm1/id0': 'HDMI-A-1', 'vm2/id0': 'HDMI-A-1' });
  const first = outputs.claim(ref(vm1, 'id0'));
  assert.equal(outputOf(first), 'HDMI-A-1');
  for (let i = 0; i < 3; i++) {
    const later = outputs.claim(ref(vm2, 'id0'));
    assert.equal(outputOf(later), 'dom4.0.id0');
    if (later.ok) later.claim.release();
  }
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(
    warnings[0]!,
    /^dom4 device 0 connector 0 \(unique-id "id0"\): mapped by vm2\/id0 to output HDMI-A-1, which already shows dom3 device 0 connector 0 .*first come, first served.*headless output of its own$/,
  );
  // No pre-emption: the holder keeps it until it lets go; the next claim then gets it.
  if (first.ok) first.claim.release();
  assert.equal(outputOf(outputs.claim(ref(vm2, 'id0'))), 'HDMI-A-1');
});

void test('unmapped=refuse: a connector with no mapping, or whose output is taken, fails its device as the frontend’s fault', () => {
  const { outputs } = world({ 'vm1/id0': 'HDMI-A-1', 'vm2/id0': 'HDMI-A-1', 'vm2/id1': 'NOPE-1' }, 'refuse');
  assert.equal(outputOf(outputs.claim(ref(vm1, 'id0'))), 'HDMI-A-1');
  const taken = outputs.claim(ref(vm2, 'id0'));
  assert.ok(!taken.ok && taken.fault === 'frontend' && /in use and unmapped=refuse/.test(taken.error));
  const none = outputs.claim(ref(vm2, 'HDMI-A-1'));
  assert.ok(!none.ok && none.fault === 'frontend' && /no --connector mapping/.test(none.error));
  // dom0's mapping to an output that is not there is dom0's fault: the device stays failed.
  const missing = outputs.claim(ref(vm2, 'id1'));
  assert.ok(
    !missing.ok &&
      missing.fault === 'config' &&
      /mapped by vm2\/id1 to output "NOPE-1", which does not exist/.test(missing.error),
  );
});

void test("the guest's name and UUID come from dom0's nodes, and only while no other domain may write them", async () => {
  const fx = await xenstored();
  try {
    await new Toolstack(fx.dom0).createDomainNodes(7, 'vm7', UUID.toUpperCase(), 65536);
    const r = await readGuestIdentity(fx.dom0, 7 as DomId, 0);
    assert.deepEqual(r, { identity: { domid: 7, name: 'vm7', uuid: UUID }, distrusted: [] });
    // A node the guest could write is no identity.
    await fx.dom0.setPerms('/local/domain/7/name', [{ domid: 7, access: 'n' }]);
    await fx.dom0.setPerms('/local/domain/7/vm', [
      { domid: 0, access: 'n' },
      { domid: 7, access: 'b' },
    ]);
    const d = await readGuestIdentity(fx.dom0, 7 as DomId, 0);
    assert.deepEqual(d.identity, { domid: 7, name: undefined, uuid: undefined });
    assert.deepEqual(d.distrusted, [
      '/local/domain/7/name: owned by domain 7',
      '/local/domain/7/vm: writable by domain 7',
    ]);
    // No nodes at all (a domain the toolstack did not describe): the domid only.
    assert.deepEqual(await readGuestIdentity(fx.dom0, 9 as DomId, 0), {
      identity: { domid: 9, name: undefined, uuid: undefined },
      distrusted: [],
    });
  } finally {
    await fx.close();
  }
});
