from simdetect.cli import main

main()
