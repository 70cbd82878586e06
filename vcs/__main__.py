from vcs.cli import main

main()
