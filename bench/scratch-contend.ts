import { MongoClient } from 'mongodb';
const url = process.env['MONGO_URL']!;
const clients = await Promise.all(Array.from({ length: 4 }, async () => { const c = new MongoClient(url, { maxPoolSize: 10 }); await c.connect(); return c; }));
const db = clients[0]!.db('contend');
await db.collection('w').insertMany(Array.from({ length: 400 }, (_, i) => ({ _id: `d${i}` as never, v: 'x'.repeat(4000) })));
const latencies: number[] = [];
const end = Date.now() + 5000;
await Promise.all(clients.flatMap((c, k) => Array.from({ length: 4 }, async (_, j) => {
  const col = c.db('contend').collection<{ _id: string }>('w');
  let i = 0;
  while (Date.now() < end) {
    const t = performance.now();
    await col.updateOne({ _id: `d${(k * 100 + j * 25 + (i++ % 25))}` }, { $set: { v: 'y'.repeat(4000) + i } });
    latencies.push(performance.now() - t);
  }
})));
latencies.sort((a, b) => a - b);
const p = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(1);
console.log(`16 concurrent writers: ${latencies.length} updates in 5 s (${Math.round(latencies.length / 5)}/s), p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`);
const over500 = latencies.filter((x) => x > 500).length;
console.log(`updates over 500 ms: ${over500}`);
await db.dropDatabase();
for (const c of clients) await c.close();
