"""leadrules language: grammar, parser, syntax tree, checker, compilers and formatter."""
