# SPDX-License-Identifier: MIT
# The course's line styles, for every plot: scripts/plot.sh loads it before each lab's plot.gp, and
# scripts/classtools/compare.py before each comparison; series k is drawn with linetype k. Colours: the
# Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2002), which colour-blind readers
# can tell apart, ordered so that the yellow comes last, and that yellow darkened (Okabe-Ito's
# #F0E442 is too pale a line on white; #D4C000 keeps its hue). Every 8 series the point type and the
# dash pattern change, so that 40 series (a class of 30 machines and more) all differ, in
# greyscale too.
course_colours = "#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #000000 #D4C000"
course_points = "7 5 9 11 13"	# filled circle, square, triangle up, triangle down, diamond
do for [i = 1:40] {
	course_round = (i - 1) / 8 + 1	# integer division: 1 for series 1-8, 2 for 9-16 ...
	course_point = int(word(course_points, course_round))
	set linetype i linecolor rgb word(course_colours, (i - 1) % 8 + 1) linewidth 2 \
		pointtype course_point pointsize 1 dashtype course_round
}
set linetype cycle 40
