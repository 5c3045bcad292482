package dev.tollgate.config;

import java.util.List;

/**
 * Start-up refused because a configuration or catalog file is wrong. Carries every problem found,
 * one line each, in the form {@code file: path: reason}, so an operator fixes them all in one pass.
 */
public final class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super(String.join(System.lineSeparator(), problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
