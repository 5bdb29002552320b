/**
 * The design document's weather server, with the SDK: current weather and a
 * daily forecast for a place name, from Open-Meteo (free, no key). Shows a
 * typed JSON Schema tool, a zod tool, an error the model can read, a
 * resource and a prompt.
 *
 * ```sh
 * npm run build && npx tsc -p tsconfig.examples.json     # builds build/examples/weather.js
 * node build/examples/weather.js stdio                    # any MCP client, before deploying
 * OMNIMCP_API_KEY=omni_... node build/examples/weather.js deploy https://weather.example.com
 * OMNIMCP_WEBHOOK_SECRET=whsec_... node build/examples/weather.js serve 8081
 * ```
 *
 * `WEATHER_GEOCODING_URL` and `WEATHER_FORECAST_URL` point it at another
 * Open-Meteo-shaped service (the tests use a fake on loopback).
 */
import { OmniMCP, type OmniMCPOptions } from "@omnimcp/sdk";
import { z } from "zod";

/** What the model gets back: small, named, in metric units. */
export interface Forecast {
  place: string;
  country: string;
  currentTemperatureC: number;
  currentWindKmh: number;
  days: Array<{ date: string; minC: number; maxC: number }>;
}

const env = (name: string, fallback: string) => process.env[name] || fallback;

async function getJson(base: string, path: string, query: Record<string, string>): Promise<any> {
  const url = new URL(path, base);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the weather service failed: HTTP ${response.status}`);
  return response.json();
}

/** The forecast for a place name, from Open-Meteo's geocoding and forecast APIs. */
export async function forecast(city: string, days = 3): Promise<Forecast> {
  const geocoding = env("WEATHER_GEOCODING_URL", "https://geocoding-api.open-meteo.com");
  const service = env("WEATHER_FORECAST_URL", "https://api.open-meteo.com");
  const places = await getJson(geocoding, "/v1/search", { name: city, count: "1" });
  const place = places.results?.[0];
  if (!place) throw new Error(`no place called ${JSON.stringify(city)} was found; try adding the country`);
  const weather = await getJson(service, "/v1/forecast", {
    latitude: String(place.latitude),
    longitude: String(place.longitude),
    current: "temperature_2m,wind_speed_10m",
    daily: "temperature_2m_min,temperature_2m_max",
    forecast_days: String(days),
  });
  const daily = weather.daily;
  return {
    place: place.name ?? city,
    country: place.country ?? "",
    currentTemperatureC: weather.current.temperature_2m,
    currentWindKmh: weather.current.wind_speed_10m,
    days: (daily.time as string[]).map((date, i) => ({
      date,
      minC: daily.temperature_2m_min[i],
      maxC: daily.temperature_2m_max[i],
    })),
  };
}

/** The server: its tools, resource and prompt. */
export function weatherServer(options: OmniMCPOptions = {}): OmniMCP {
  return new OmniMCP(options)
    .tool({
      name: "get_weather",
      description: "Current weather and a daily min/max forecast for a place",
      parameters: {
        type: "object",
        properties: {
          city: { type: "string", description: 'A place name, e.g. "Paris" or "Springfield, Illinois"' },
          days: { type: "integer", description: "How many days of forecast, 1 to 7 (default 3)" },
        },
        required: ["city"],
      } as const,
      annotations: { readOnlyHint: true, openWorldHint: true },
      // `city` is a string and `days` an optional number: typed from the schema.
      handler: async ({ city, days }) => {
        if (days !== undefined && (days < 1 || days > 7)) throw new Error(`days must be between 1 and 7, not ${days}`);
        return forecast(city, days);
      },
    })
    .tool({
      name: "compare",
      description: "Which of two places is warmer now",
      parameters: z.object({ first: z.string().min(1), second: z.string().min(1) }),
      handler: async ({ first, second }) => {
        const [a, b] = await Promise.all([forecast(first, 1), forecast(second, 1)]);
        const warmer = a.currentTemperatureC >= b.currentTemperatureC ? a : b;
        return { warmer: warmer.place, by: Math.abs(a.currentTemperatureC - b.currentTemperatureC) };
      },
    })
    .resource({
      uri: "weather://attribution",
      name: "Attribution",
      description: "Where the data comes from",
      mimeType: "text/plain",
      read: () => "Weather data by Open-Meteo.com (CC BY 4.0).",
    })
    .prompt({
      name: "plan_outing",
      description: "Plans an outing around the weather",
      arguments: [{ name: "city", description: "Where", required: true }],
      get: ({ city }) => `Check the weather in ${city} with get_weather, then suggest what to do tomorrow.`,
    });
}

// Run as a program: `stdio`, `deploy <callback URL>` or `serve <port>`.
const invoked = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invoked) {
  const [mode, value] = process.argv.slice(2);
  const server = weatherServer({ logger: console });
  if (mode === "stdio") {
    await server.serveStdio({ name: "weather-example" });
  } else if (mode === "deploy" && value) {
    const deployed = await server.deploy({
      name: "weather-example",
      description: "Current weather and daily forecasts by place name (Open-Meteo).",
      callbackUrl: value,
      category: "data",
      tags: ["weather", "example"],
    });
    console.error(`deployed ${deployed.slug} (${deployed.serverId})`);
  } else if (mode === "serve") {
    const local = await server.startLocal({ port: Number(value ?? 8081) });
    console.error(`serving the callback protocol on ${local.url}`);
  } else {
    console.error("usage: weather.js stdio | deploy <callback URL> | serve <port>");
    process.exit(2);
  }
}
