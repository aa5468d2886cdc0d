"""`python -m local_happytalk`: serve sample data until interrupted."""

from local_happytalk.server import main

main()
