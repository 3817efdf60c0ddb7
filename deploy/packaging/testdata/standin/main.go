// Command standin takes the place of zhizhi and zhizhi-agent in the packaging tests.
package main

import "fmt"

func main() { fmt.Println("zhizhi stand-in") }
