package dev.tollgate.bench.load;

import java.util.Locale;
import org.HdrHistogram.Histogram;

/** Text for results: latencies in milliseconds from microsecond histograms. */
final class Report {

    private Report() {
    }

    /** Microseconds as milliseconds with 3 decimals ({@code 0.412}). */
    static String ms(long micros) {
        return String.format(Locale.ROOT, "%.3f", micros / 1000.0);
    }

    /** A signed difference in milliseconds ({@code +0.120}, {@code -0.010}). */
    static String deltaMs(long micros) {
        return String.format(Locale.ROOT, "%+.3f", micros / 1000.0);
    }

    static long at(Histogram histogram, double percentile) {
        return histogram.getTotalCount() == 0 ? 0 : histogram.getValueAtPercentile(percentile);
    }

    static String percentiles(Histogram histogram) {
        if (histogram.getTotalCount() == 0) {
            return "(none)";
        }
        return "p50 " + ms(at(histogram, 50)) + "  p90 " + ms(at(histogram, 90)) + "  p99 " + ms(at(histogram, 99))
                + "  p99.9 " + ms(at(histogram, 99.9)) + "  max " + ms(histogram.getMaxValue()) + " ms";
    }

    static String describe(LoadGenerator.Result result) {
        LoadGenerator.Counts m = result.measured();
        LoadGenerator.Counts w = result.warmup();
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%s: offered %.0f/s, achieved %.0f/s over %.1f s; peak connections %d%n",
                result.spec().label(), result.spec().ratePerSecond(), result.achievedPerSecond(), result.spec().measureNs() / 1e9,
                result.peakConnections()));
        out.append(String.format(Locale.ROOT, "  measured: scheduled %d sent %d completed %d errors %d incomplete %d unsent %d%n",
                m.scheduled(), m.sent(), m.completed(), m.errors(), m.incomplete(), m.unsent()));
        out.append(String.format(Locale.ROOT, "  warm-up:  scheduled %d sent %d completed %d errors %d incomplete %d unsent %d%n",
                w.scheduled(), w.sent(), w.completed(), w.errors(), w.incomplete(), w.unsent()));
        out.append("  latency (from intended send): ").append(percentiles(result.latencyUs())).append('\n');
        out.append("  service time (from actual send): ").append(percentiles(result.serviceUs())).append('\n');
        if (result.ttfbUs().getTotalCount() > 0) {
            out.append("  time to first event: ").append(percentiles(result.ttfbUs())).append('\n');
            out.append("  inter-event gap: ").append(percentiles(result.gapUs())).append('\n');
        }
        out.append("  send lag (generator lateness): ").append(percentiles(result.sendLagUs())).append('\n');
        out.append("  worst latency per second of the schedule (ms):");
        for (long worst : result.worstLatencyPerSecondUs()) {
            out.append(' ').append(String.format(Locale.ROOT, "%.1f", worst / 1000.0));
        }
        out.append('\n');
        for (String problem : result.problems()) {
            out.append("  problem: ").append(problem).append('\n');
        }
        return out.toString();
    }
}
