from lenetlab.train import main

main()
