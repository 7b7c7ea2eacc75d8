/** A scrape of an orchestra's /metrics, as the test reads it. */

/** `name{labels} value` lines of the exposition at `${httpUrl}/metrics`, as a map from `name{labels}` to the value. */
export async function scrapeSeries(httpUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${httpUrl}/metrics`);
  if (response.status !== 200) throw new Error(`GET ${httpUrl}/metrics answered ${response.status}`);
  const series = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}
