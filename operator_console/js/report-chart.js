// The report's chart (Supervisão → Relatórios): attendances received per day
// (bars, left axis) and the average wait in minutes (line, right axis), drawn
// by the vendored uPlot (vendor/uPlot.iife.min.js, the global `uPlot`) with
// pt-BR axes and a legend. uPlot draws on a canvas and styles its nodes from
// script (CSSOM), which the pages' CSP allows; the table below the chart
// holds the exact figures.
import { formatDate, formatNumber } from "./format.js";

const WIDTH = 900, HEIGHT = 240;
const DAY_STEPS = [1, 2, 5, 7, 14, 30, 61, 91]; // days between the labels of the day axis
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]; // whole attendances
const WAIT_STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 240, 480]; // minutes

let chart = null;

const minutes = (seconds) => (typeof seconds === "number" ? seconds / 60 : null);

// ``daily``: the report's days in order, each {day: "YYYY-MM-DD", received, wait_avg}.
export function drawReportChart(container, daily) {
  chart?.destroy();
  const days = daily.map((d) => d.day);
  const received = daily.map((d) => d.received);
  const label = (index) => formatDate(days[index], { short: true });
  const axis = { stroke: "#374151", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#d1d5db" } };
  chart = new uPlot({
    width: Math.min(WIDTH, container.clientWidth || WIDTH),
    height: HEIGHT,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: false },
      atendimentos: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      espera: { range: (_u, _min, max) => [0, Math.max(1, max ?? 0)] },
    },
    axes: [
      { ...axis, label: "Dia", incrs: DAY_STEPS, values: (_u, splits) => splits.map(label) },
      { ...axis, scale: "atendimentos", label: "Atendimentos recebidos", incrs: COUNT_STEPS,
        values: (_u, splits) => splits.map(formatNumber) },
      { ...axis, scale: "espera", side: 1, label: "Espera média (min)", grid: { show: false }, incrs: WAIT_STEPS,
        values: (_u, splits) => splits.map(formatNumber) },
    ],
    series: [
      { label: "Dia" },
      { label: "Recebidos", scale: "atendimentos", fill: "#93c5fd", stroke: "#1d4ed8", width: 1,
        paths: uPlot.paths.bars({ size: [0.6, 48] }), points: { show: false } },
      { label: "Espera média (min)", scale: "espera", stroke: "#b91c1c", width: 2, spanGaps: true,
        points: { show: true, size: 6, fill: "#b91c1c" } },
    ],
  }, [days.map((_day, index) => index), received, daily.map((d) => minutes(d.wait_avg))], container);
  // Half a day of room on each side, so that the first and last bars show whole.
  chart.setScale("x", { min: -0.5, max: days.length - 0.5 });
  const total = received.reduce((sum, count) => sum + count, 0);
  const canvas = container.querySelector("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label",
    `Atendimentos recebidos e espera média por dia, de ${formatDate(days[0])} a ${formatDate(days.at(-1))}: ` +
    `${formatNumber(total)} recebidos no período.`);
}
