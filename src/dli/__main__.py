from dli.entrypoints.cli import main

main()
