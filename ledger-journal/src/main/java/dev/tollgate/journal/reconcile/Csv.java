package dev.tollgate.journal.reconcile;

/** RFC 4180 quoting, for the free-text fields (reasons, references) that may hold commas or quotes. */
final class Csv {
    private Csv() {
    }

    static String field(String value) {
        if (value == null) {
            return "";
        }
        boolean quote = false;
        for (int i = 0; i < value.length() && !quote; i++) {
            char c = value.charAt(i);
            quote = c == ',' || c == '"' || c == '\n' || c == '\r';
        }
        // A leading = + - @ would be a formula to a spreadsheet: an operator-typed reason must not run as one.
        boolean formula = !value.isEmpty() && "=+-@".indexOf(value.charAt(0)) >= 0;
        String text = formula ? "'" + value : value;
        return quote || formula ? '"' + text.replace("\"", "\"\"") + '"' : text;
    }
}
