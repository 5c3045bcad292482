package dev.tollgate.config;

import java.nio.file.Path;

/**
 * The access log: one JSON line per request, written off the event loop. Off unless the configuration turns it on.
 *
 * @param enabled whether the node writes it at all
 * @param file    where the lines are appended (resolved against the configuration file's directory), or null for
 *                standard output ({@code path: "-"})
 */
public record AccessLogConfig(boolean enabled, Path file) {
    /** What {@code path} is when the configuration does not say: beside the configuration file. */
    public static final String DEFAULT_PATH = "logs/access.jsonl";
    /** The {@code path} that means standard output. */
    public static final String STANDARD_OUTPUT = "-";
    public static final AccessLogConfig DISABLED = new AccessLogConfig(false, null);

    public boolean toStandardOutput() {
        return file == null;
    }

    /** Where the lines go, as a message names it. */
    public String destination() {
        return file == null ? "standard output" : file.toString();
    }
}
