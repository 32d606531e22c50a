from lenetlab.search.cli import main

main()
