// The dashboard's panel and query shapes, built with the Grafana Foundation SDK's builders.
import {
  BigValueColorMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import {
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type DataSourceRef,
  type ValueMapping,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";

/** The Prometheus data source the `$datasource` variable picks; every panel reads it. */
export const PROMETHEUS: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** Height of every panel, in grid units (the grid is 24 units wide). */
const PANEL_HEIGHT = 8;

/** One PromQL expression of a panel and the legend of its series. */
export interface Query {
  readonly expr: string;
  readonly legend: string;
}

/** What every panel has: a title, a description naming its metrics, a unit and its queries. */
export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  /** A Grafana unit id: `s`, `ops`, `short`, `percentunit`. */
  readonly unit: string;
  /** Width in grid units. */
  readonly width: number;
  readonly queries: readonly Query[];
}

/** `rate(<selector>[$__rate_interval])` summed by `by` (nothing: one total). */
export function sumRate(selector: string, by: readonly string[] = []): string {
  const grouping = by.length > 0 ? ` by (${by.join(", ")}) ` : "";
  return `sum${grouping}(rate(${selector}[$__rate_interval]))`;
}

/**
 * One query per quantile of a histogram, grouped by `by` (plus `le`), legends `p50 {{channel}}`
 * and so on. `selector` is the `_bucket` series with its label matchers.
 */
export function quantiles(
  selector: string,
  by: readonly string[],
  percents: readonly number[],
): Query[] {
  const legendLabels = by.map((label) => ` {{${label}}}`).join("");
  return percents.map((percent) => ({
    expr: `histogram_quantile(${percent / 100}, ${sumRate(selector, [...by, "le"])})`,
    legend: `p${percent}${legendLabels}`,
  }));
}

/** The queries of a panel as Prometheus data queries with refIds A, B, C, ... */
function targets(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((query, i) =>
    new DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .datasource(PROMETHEUS)
      .expr(query.expr)
      .legendFormat(query.legend),
  );
}

/** The setters every panel builder of the SDK has, each returning the builder. */
interface CommonPanelBuilder<T> {
  title(title: string): T;
  description(description: string): T;
  datasource(datasource: DataSourceRef): T;
  unit(unit: string): T;
  height(h: number): T;
  span(w: number): T;
  targets(targets: DataqueryBuilder[]): T;
}

/** Sets what panels of every type take from their spec: texts, data source, size and queries. */
function withSpec<T extends CommonPanelBuilder<T>>(builder: T, spec: PanelSpec): T {
  return builder
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS)
    .unit(spec.unit)
    .height(PANEL_HEIGHT)
    .span(spec.width)
    .targets(targets(spec.queries));
}

/** A time series panel: a table legend with the last and the largest value, a sorted shared tooltip. */
export function timeseries(spec: PanelSpec): TimeseriesPanelBuilder {
  return withSpec(new TimeseriesPanelBuilder(), spec)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .calcs(["lastNotNull", "max"]),
    )
    .tooltip(
      new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending),
    );
}

/** A stat panel showing the last value as text from `mappings`, its background coloured by `thresholds`. */
export function stat(
  spec: PanelSpec & {
    readonly mappings: ValueMapping[];
    readonly thresholds: { value: number | null; color: string }[];
  },
): StatPanelBuilder {
  return withSpec(new StatPanelBuilder(), spec)
    .mappings(spec.mappings)
    .thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(spec.thresholds))
    .colorMode(BigValueColorMode.Background)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
}
